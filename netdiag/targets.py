"""Target parsing shared by every command.

Accepted forms: ``host``, ``host:port``, ``[v6addr]:port``, ``[v6addr]``, bare IPv4 and IPv6
literals (with an optional ``%zone``), internationalised names (converted to IDNA A-labels with
UTS #46 mapping), and URLs where a command takes them. Anything else raises
:class:`TargetError`, which the CLI turns into a one-line usage error (exit status 2).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class TargetError(ValueError):
    """The user's target is malformed. The message is one line, meant for the user."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target.

    ``host`` is what is handed to the resolver or socket: IDNA A-labels for names, the bare
    address (no brackets) for IP literals. ``text`` is what the user typed.
    """

    text: str
    host: str
    port: int | None
    ip_version: int | None = None
    """4 or 6 when ``host`` is an IP literal, else None."""
    scheme: str | None = None
    path: str = ""

    @property
    def is_ip(self) -> bool:
        return self.ip_version is not None

    def with_default_port(self, port: int | None) -> Target:
        """The same target, with ``port`` filled in when the user gave none."""
        if self.port is not None or port is None:
            return self
        return Target(self.text, self.host, port, self.ip_version, self.scheme, self.path)

    def hostport(self) -> str:
        """``host:port`` with brackets around IPv6 literals (``host`` alone without a port)."""
        return format_hostport(self.host, self.port)


def format_hostport(host: str, port: int | None) -> str:
    h = f"[{host}]" if ":" in host else host
    return h if port is None else f"{h}:{port}"


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def parse_port(text: str, context: str | None = None) -> int:
    """A TCP/UDP port: decimal, 1-65535."""
    where = f" in '{context}'" if context is not None else ""
    if text == "":
        raise TargetError(f"empty port{where}")
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        raise TargetError(f"invalid port '{text}'{where}: must be a number from 1 to 65535")
    port = int(text)
    if not 1 <= port <= 65535:
        raise TargetError(f"invalid port '{text}'{where}: must be a number from 1 to 65535")
    return port


def parse_host(text: str) -> tuple[str, int | None]:
    """Validate a host name or IP literal; return (resolver form, IP version or None)."""
    if text == "":
        raise TargetError("empty host name")
    if ":" in text:
        try:
            return str(ipaddress.IPv6Address(text)), 6
        except ValueError:
            raise TargetError(f"'{text}' is not a valid IPv6 address") from None
    try:
        return str(ipaddress.IPv4Address(text)), 4
    except ValueError:
        pass
    if all(c.isdigit() or c == "." for c in text if c.isascii()) and text.isascii():
        raise TargetError(f"'{text}' is not a valid IPv4 address")
    name = text
    if not name.isascii():
        import idna  # only for internationalised names

        try:
            name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise TargetError(
                f"'{text}' is not a valid internationalised domain name: {exc}"
            ) from None
    bare = name[:-1] if name.endswith(".") else name
    if bare == "":
        raise TargetError(f"'{text}' is not a valid host name")
    if len(bare) > 253:
        raise TargetError(f"host name '{text}' is longer than 253 characters")
    for label in bare.split("."):
        if not _LABEL.match(label):
            if label == "":
                raise TargetError(f"host name '{text}' has an empty label")
            raise TargetError(
                f"'{text}' is not a valid host name (label '{label}': letters, digits and inner "
                "hyphens, at most 63 characters)"
            )
    if bare.rsplit(".", 1)[-1].isdigit():
        raise TargetError(f"'{text}' is not a valid host name (the last label is all digits)")
    return name, None


def parse_target(
    text: str,
    *,
    default_port: int | None = None,
    schemes: Mapping[str, int] | None = None,
) -> Target:
    """Parse one target as the user typed it.

    ``schemes`` maps the URL schemes this command accepts to their default ports; without it a
    URL is an error. ``default_port`` fills in a port when the target has none.
    """
    s = text.strip()
    if s == "":
        raise TargetError("empty target")
    if any(c.isspace() or not c.isprintable() for c in s):
        raise TargetError(f"target '{text}' contains white space or control characters")
    if "://" in s:
        return _parse_url(text, s, schemes)
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise TargetError(f"'{text}': missing ']' after an IPv6 address")
        inner, rest = s[1:end], s[end + 1 :]
        if ":" not in inner:
            raise TargetError(f"'{text}': only IPv6 addresses go in brackets")
        host, version = parse_host(inner)
        if rest == "":
            port = None
        elif rest.startswith(":"):
            port = parse_port(rest[1:], text)
        else:
            raise TargetError(f"'{text}': expected ':port' after ']'")
    elif s.count(":") >= 2:
        host, version = parse_host(s)
        port = None
    elif ":" in s:
        h, p = s.split(":")
        host, version = parse_host(h)
        port = parse_port(p, text)
    else:
        host, version = parse_host(s)
        port = None
    return Target(text, host, port if port is not None else default_port, version)


def _parse_url(text: str, s: str, schemes: Mapping[str, int] | None) -> Target:
    scheme = s.split("://", 1)[0].lower()
    if schemes is None:
        raise TargetError(f"'{text}': this command takes host or host:port, not a URL")
    if scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise TargetError(f"'{text}': unsupported URL scheme '{scheme}' (use {allowed})")
    try:
        parts = urlsplit(s)
    except ValueError as exc:
        raise TargetError(f"'{text}': {exc}") from None
    netloc_host = parts.netloc.rpartition("@")[2]
    if netloc_host.startswith("["):
        raw_host = netloc_host[1 : netloc_host.find("]")]
    else:
        if netloc_host.count(":") > 1:
            raise TargetError(f"'{text}': put IPv6 addresses in URLs in brackets")
        raw_host = netloc_host.split(":", 1)[0]
    if raw_host == "":
        raise TargetError(f"'{text}': the URL has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"'{text}': {exc}") from None
    host, version = parse_host(raw_host)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(text, host, port or schemes[scheme], version, scheme, path)
