"""Reading the files a user names (``ping -f``, ``--root-hints``, ``--ca-file``, ``http -d
@FILE``, and standard input for ``http -d @-``), bounded in size.

A file named on the command line may be anything: ``/dev/zero``, ``/dev/urandom``, a
terminal, a pipe that never ends. Regular files are checked against the limit before they are
read; pipes and FIFOs (``<(command)``) are read up to one byte past the limit and refused
beyond it; devices and directories are refused outright, since their size cannot be known
and reading them may never end.
"""

from __future__ import annotations

import os
import stat

MiB = 1 << 20

MAX_LIST_BYTES = 4 * MiB
"""Lists of hosts (``ping -f``), root hints, CA bundles."""

MAX_BODY_BYTES = 64 * MiB
"""A request body read from a file (``http -d @FILE``)."""


class FileError(ValueError):
    """A file cannot be used; the message is one line, meant for the user."""


def _human(n: int) -> str:
    return f"{n // MiB} MiB" if n % MiB == 0 else f"{n} bytes"


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """The contents of ``path``, at most ``limit`` bytes, or :class:`FileError`."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise FileError(f"{name}: {exc.strerror or exc}") from None
    try:
        return _read_fd(fd, name, limit)
    finally:
        os.close(fd)


def read_stdin_bounded(limit: int) -> bytes:
    """Standard input (``http -d @-``), at most ``limit`` bytes, or :class:`FileError`: a
    file or a pipe, as :func:`read_bounded` takes; a terminal or ``/dev/null`` is refused
    rather than read (typing a body, or a closed input, is not what ``@-`` is for)."""
    if os.isatty(0):
        raise FileError("standard input is a terminal: pipe the body in, or name a file")
    try:
        if os.path.samestat(os.fstat(0), os.stat(os.devnull)):
            raise FileError("standard input is empty (/dev/null, or closed): pipe the body in")
    except OSError:
        pass
    return _read_fd(0, "standard input", limit)


def _read_fd(fd: int, name: str, limit: int) -> bytes:
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise FileError(f"{name}: is a directory")
        if stat.S_ISREG(mode):
            if st.st_size > limit:
                raise FileError(
                    f"{name}: {st.st_size} bytes, more than the limit of {_human(limit)}"
                )
        elif not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            raise FileError(
                f"{name}: not a regular file or a pipe (a device has no size to check; "
                "netdiag reads only files and pipes)"
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileError(f"{name}: more than the limit of {_human(limit)}")
        return b"".join(chunks)
    except OSError as exc:
        raise FileError(f"{name}: {exc.strerror or exc}") from None


def read_text_bounded(path: str | os.PathLike[str], limit: int = MAX_LIST_BYTES) -> str:
    """A bounded text file (UTF-8; undecodable bytes are a :class:`FileError`)."""
    data = read_bounded(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(
            f"{os.fspath(path)}: not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})"
        ) from None
