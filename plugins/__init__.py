"""anobench's built-in plugins (installed as ``anobench_plugins``).

They are registered through the ``anobench`` entry-point group exactly like
third-party plugins; the core never imports them by name.
"""
