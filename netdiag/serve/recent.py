"""The recent probes of ``GET /`` when the exporter runs as several worker processes: each
worker writes its own in a ring of fixed-size slots in a file (mmap) of the exporter's private
directory, and the worker that answers ``GET /`` reads every worker's ring.

One writer per file (its worker's event loop); a reader may catch a slot half written, so
each slot carries its sequence number at both ends and a slot whose two ends differ is
skipped. A target too long for a slot is cut (the page shows it cut, without a debug link).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

SLOT_BYTES = 1024
_HEAD = struct.Struct("<QddBHHH")  # seq, at_s, duration_s, flags, len(module, target, kind)
_TAIL = struct.Struct("<Q")
_ROOM = SLOT_BYTES - _HEAD.size - _TAIL.size
_OK = 1
_CUT = 2
PREFIX = "recent_"
SUFFIX = ".ring"


@dataclass(frozen=True, slots=True)
class Entry:
    at_s: float
    module: str
    target: str
    ok: bool
    kind: str | None
    duration_s: float
    cut: bool
    """The target is longer than a slot holds: ``target`` is its beginning."""


class Ring:
    """This worker's ring: ``slots`` probes, the oldest overwritten."""

    def __init__(self, directory: str, slots: int) -> None:
        self.path = os.path.join(directory, f"{PREFIX}{os.getpid()}{SUFFIX}")
        self._slots = slots
        self._seq = 0
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, slots * SLOT_BYTES)
            self._map = mmap.mmap(fd, slots * SLOT_BYTES)
        finally:
            os.close(fd)

    def append(
        self, at_s: float, module: str, target: str, ok: bool, kind: str | None, duration_s: float
    ) -> None:
        m = module.encode()[:64]
        k = (kind or "").encode()[:64]
        t = target.encode("utf-8", "backslashreplace")
        flags = _OK if ok else 0
        if len(m) + len(t) + len(k) > _ROOM:
            t = t[: _ROOM - len(m) - len(k)]
            flags |= _CUT
        self._seq += 1
        at = (self._seq - 1) % self._slots * SLOT_BYTES
        body = _HEAD.pack(self._seq, at_s, duration_s, flags, len(m), len(t), len(k)) + m + t + k
        end = at + SLOT_BYTES - _TAIL.size
        self._map[end : end + _TAIL.size] = _TAIL.pack(0)  # the slot is being written
        self._map[at : at + len(body)] = body
        self._map[end : end + _TAIL.size] = _TAIL.pack(self._seq)

    def close(self) -> None:
        self._map.close()


def _entries(data: bytes) -> Iterator[Entry]:
    for at in range(0, len(data) - SLOT_BYTES + 1, SLOT_BYTES):
        seq, at_s, duration_s, flags, lm, lt, lk = _HEAD.unpack_from(data, at)
        (tail,) = _TAIL.unpack_from(data, at + SLOT_BYTES - _TAIL.size)
        if seq == 0 or seq != tail or lm + lt + lk > _ROOM:
            continue
        p = at + _HEAD.size
        module = data[p : p + lm].decode("utf-8", "replace")
        target = data[p + lm : p + lm + lt].decode("utf-8", "replace")
        kind = data[p + lm + lt : p + lm + lt + lk].decode("utf-8", "replace") or None
        yield Entry(at_s, module, target, bool(flags & _OK), kind, duration_s, bool(flags & _CUT))


def read_all(directory: str, limit: int) -> list[Entry]:
    """The ``limit`` most recent probes of every worker's ring, oldest first."""
    found: list[Entry] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
            continue
        try:
            with open(os.path.join(directory, name), "rb") as f:
                data = f.read()
        except OSError:
            continue
        found.extend(_entries(data))
    found.sort(key=lambda e: e.at_s)
    return found[-limit:]
