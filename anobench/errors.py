"""User-facing errors.

Every problem caused by input (a suite file, a data directory, a plugin) is
raised as :class:`AnobenchError` with a one-line message that names the file,
key or plugin. The CLI prints it and exits with code 2, without a traceback.
"""
from __future__ import annotations


class AnobenchError(Exception):
    """An error caused by user input, printed as one line by the CLI."""

    exit_code = 2


class SuiteError(AnobenchError):
    """A suite file is malformed or refers to something that does not exist."""


class DataError(AnobenchError):
    """A dataset is missing, corrupt or unusable."""


class PluginError(AnobenchError):
    """A plugin is malformed, duplicated or raised while loading."""


class CellError(AnobenchError):
    """One cell of a run failed (diverging loss, NaN scores, plugin raised)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop like Ctrl-C (finished cells stored, a resume line)."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signum)
        self.signum = signum
        self.signame = signal.Signals(signum).name
