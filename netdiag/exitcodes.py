"""The exit statuses netdiag promises to scripts. Documented in the README and in ``--help``."""

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    """Every probe succeeded and every threshold held."""
    UNHEALTHY = 1
    """A probe ran and the target is unhealthy: failure, timeout, or threshold breached."""
    USAGE = 2
    """Bad usage or input: a one-line error on stderr."""
    CANNOT_RUN = 3
    """netdiag cannot run this probe here (for example no privilege for ICMP); a hint says how."""
    OUTPUT_ERROR = 74
    """The output could not be written: stdout closed, disk full, or the reader of a pipe went
    away (that last one quietly). ``EX_IOERR`` in BSD's sysexits.h."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C; what was measured is still printed."""


EXIT_HELP = """\
Exit status: 0 every probe succeeded and every threshold held; 1 a target is unhealthy
(failure, timeout, threshold breached); 2 bad usage or input; 3 the probe cannot run here
(a hint says how to fix it); 74 the output could not be written (stdout closed, disk full);
130 interrupted by Ctrl-C."""
