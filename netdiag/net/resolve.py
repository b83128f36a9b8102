"""Name resolution through the system's resolver (getaddrinfo), timed, with a timeout.

getaddrinfo itself cannot be given a timeout, so a lookup runs in a daemon thread and is
abandoned, reported as a ``dns`` timeout, when the deadline passes. IP literals are converted
without any lookup.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from netdiag.clock import elapsed_ms, now_ns
from netdiag.errors import ErrorKind
from netdiag.results import ProbeError
from netdiag.results.resolve import Endpoint, Resolution

FAMILIES = {None: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}


def _gai_error(host: str, exc: socket.gaierror, version: int | None) -> ProbeError:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
        fam = f" has no IPv{version} address" if version else " does not resolve"
        return ProbeError(ErrorKind.DNS, f"{host}{fam} ({exc.strerror})")
    if exc.errno == getattr(socket, "EAI_ADDRFAMILY", -9):
        return ProbeError(ErrorKind.DNS, f"{host} has no IPv{version} address")
    if exc.errno == socket.EAI_AGAIN:
        return ProbeError(ErrorKind.DNS, f"temporary failure resolving {host} ({exc.strerror})")
    return ProbeError(ErrorKind.DNS, f"cannot resolve {host}: {exc.strerror}")


def _no_such_zone(host: str) -> ProbeError | None:
    """``fe80::1%zone`` whose zone names no interface of this host (by name or index): no
    lookup failed, there is no link to reach the address on."""
    zone = host.partition("%")[2]
    if not zone:
        return None
    number = zone.isascii() and zone.isdigit()
    try:
        if number:
            socket.if_indextoname(int(zone))
        else:
            socket.if_nametoindex(zone)
    except (OSError, ValueError, OverflowError):
        which = f"with index {zone}" if number else f"named {zone!r}"
        return ProbeError(
            ErrorKind.UNREACHABLE, f"{host}: no interface {which} on this host (ip link lists them)"
        )
    return None


@dataclass
class _Outcome:
    """What the resolver thread found: endpoints, or the exception that ended it."""

    endpoints: list[Endpoint] | None = None
    gai: socket.gaierror | None = None
    other: Exception | None = None


def _lookup(host: str, port: int, version: int | None, numeric: bool) -> list[Endpoint]:
    flags = socket.AI_NUMERICHOST if numeric else socket.AI_ADDRCONFIG
    infos = socket.getaddrinfo(
        host, port, FAMILIES[version], socket.SOCK_STREAM, socket.IPPROTO_TCP, flags
    )
    seen: dict[tuple[str, int] | tuple[str, int, int, int], Endpoint] = {}
    for family, _type, _proto, _canon, raw in infos:
        if family == socket.AF_INET:
            sockaddr: tuple[str, int] | tuple[str, int, int, int] = (str(raw[0]), int(raw[1]))
            address = sockaddr[0]
        elif family == socket.AF_INET6 and len(raw) == 4:
            host, port, flow, scope = str(raw[0]), int(raw[1]), int(raw[2]), int(raw[3])
            sockaddr = (host, port, flow, scope)
            address = f"{host.split('%')[0]}%{scope}" if scope else host
        else:
            continue
        seen.setdefault(sockaddr, Endpoint(family, sockaddr, address))
    return list(seen.values())


def _literal(host: str, port: int, version: int | None, start: int) -> Resolution:
    """An IP literal's endpoint, without a lookup (one with a zone: the zone checked, then
    getaddrinfo under AI_NUMERICHOST, which asks no resolver)."""
    if "%" not in host:  # a plain literal needs no resolver call at all
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if version is not None and FAMILIES[version] != family:
            err = ProbeError(ErrorKind.DNS, f"{host} is not an IPv{version} address")
            return Resolution((), elapsed_ms(start), err)
        sockaddr: tuple[str, int] | tuple[str, int, int, int] = (
            (host, port) if family == socket.AF_INET else (host, port, 0, 0)
        )
        return Resolution((Endpoint(family, sockaddr, host),), elapsed_ms(start))
    zone_error = _no_such_zone(host)  # glibc takes any number as a zone: check it here
    if zone_error is not None:
        return Resolution((), elapsed_ms(start), zone_error)
    try:
        eps = _lookup(host, port, version, numeric=True)
    except socket.gaierror as exc:
        return Resolution((), elapsed_ms(start), _gai_error(host, exc, version))
    return Resolution(tuple(eps), elapsed_ms(start))


def resolve(
    host: str,
    port: int,
    *,
    version: int | None = None,
    timeout: float = 5.0,
    numeric: bool = False,
    cancel: threading.Event | None = None,
) -> Resolution:
    """Resolve ``host`` to TCP endpoints, timing the lookup.

    ``version`` restricts to IPv4 (4) or IPv6 (6). ``numeric`` says ``host`` is an IP literal,
    which is converted without a lookup or a thread. Setting ``cancel`` abandons the lookup
    early (reported as a ``dns`` error), so an interrupted run need not wait for it.
    """
    start = now_ns()
    if numeric:
        return _literal(host, port, version, start)

    box = _Outcome()
    done = threading.Event()

    def work() -> None:
        try:
            box.endpoints = _lookup(host, port, version, numeric=False)
        except socket.gaierror as exc:
            box.gai = exc
        except (OSError, UnicodeError) as exc:
            box.other = exc
        finally:
            done.set()

    threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()
    deadline = start + int(timeout * 1e9)
    finished = False
    while not finished:
        left = (deadline - now_ns()) / 1e9
        if left <= 0 or (cancel is not None and cancel.is_set()):
            break
        finished = done.wait(min(left, 0.05) if cancel is not None else left)
    took = elapsed_ms(start)
    if not finished and cancel is not None and cancel.is_set():
        return Resolution((), took, ProbeError(ErrorKind.DNS, f"resolving {host} was interrupted"))
    if not finished:
        return Resolution(
            (), took, ProbeError(ErrorKind.DNS, f"resolving {host} timed out after {timeout:g} s")
        )
    if box.gai is not None:
        return Resolution((), took, _gai_error(host, box.gai, version))
    if box.other is not None:
        return Resolution(
            (), took, ProbeError(ErrorKind.DNS, f"cannot resolve {host}: {box.other}")
        )
    eps = box.endpoints or []
    if not eps:
        fam = f"IPv{version} " if version else ""
        return Resolution((), took, ProbeError(ErrorKind.DNS, f"{host} has no {fam}address"))
    return Resolution(tuple(eps), took)
