"""``python -m anobench``: the ``anobench`` command.

Python puts the current folder first on ``sys.path`` for ``-m``; it is taken
off before anything else is imported, so a module named by a suite
(``sklearn:mymodule.MyDetector``) is never imported from the folder the
command happens to run in — as with the ``anobench`` script. Put your own
modules on ``PYTHONPATH`` (or install them) to use them.
"""
import os
import sys

if not sys.flags.safe_path and sys.path and os.path.realpath(sys.path[0] or os.curdir) \
        == os.path.realpath(os.curdir):
    del sys.path[0]

from anobench.cli import main  # noqa: E402 - after the path is fixed

if __name__ == "__main__":
    sys.exit(main())
