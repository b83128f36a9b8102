"""netdiag: the core ideas of TCP/IP on the command line, one subcommand per concept."""

__version__ = "0.1.0"
