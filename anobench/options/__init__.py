"""One definition per option: the keys of suite files and of ``anobench report``.

* :mod:`anobench.options.spec` — the field spec options are declared in
  (:func:`~anobench.options.spec.option`, checks, flags) and the validation
  it gives;
* :mod:`anobench.options.tables` — ``[suite]``, ``[[datasets]]``,
  ``[[detectors]]`` and ``resources``, and the typing of plugin parameters;
* :mod:`anobench.options.report` — ``[report]`` and its parser (the flags of
  ``anobench report`` are its keys);
* :mod:`anobench.options.flags` — argparse flags made from options;
* :mod:`anobench.options.schema` — the JSON Schema of suites and the option
  reference in Markdown (``anobench schema``).

The package belongs to the core: the suite reads it, and so does the report
(:mod:`anobench.report.options`); it imports neither.
"""
