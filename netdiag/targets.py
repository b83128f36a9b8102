"""Target parsing shared by every command.

Accepted forms: ``host``, ``host:port``, ``[v6addr]:port``, ``[v6addr]``, bare IPv4 and IPv6
literals (with an optional ``%zone``), internationalised names (converted to IDNA A-labels with
UTS #46 mapping; A-labels typed as such must decode), and URLs where a command takes them.
Anything else raises :class:`TargetError`, which the CLI turns into a one-line usage error
(exit status 2).

A URL may carry ``user:password@``: it is kept in :attr:`Target.userinfo` (for HTTP Basic
auth) and never shown. Wherever a URL is echoed (``Target.text``, error messages) the
password is replaced by ``[redacted]``; a user name without a password may be a token, so it
is replaced whole (``http://[redacted]@host/``), as pip does.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

REDACTED_USERINFO = "[redacted]"


class TargetError(ValueError):
    """The user's target is malformed. The message is one line, meant for the user."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target.

    ``host`` is what is handed to the resolver or socket: IDNA A-labels for names, the bare
    address (no brackets) for IP literals. ``text`` is what the user typed, with the
    password of a URL's user info redacted (:func:`redact_userinfo`).
    """

    text: str
    host: str
    port: int | None
    ip_version: int | None = None
    """4 or 6 when ``host`` is an IP literal, else None."""
    scheme: str | None = None
    path: str = ""
    userinfo: str | None = dataclasses.field(default=None, repr=False)
    """A URL's ``user[:password]``, percent-encoded as typed; None without one. Never shown."""

    @property
    def is_ip(self) -> bool:
        return self.ip_version is not None

    def with_default_port(self, port: int | None) -> Target:
        """The same target, with ``port`` filled in when the user gave none."""
        if self.port is not None or port is None:
            return self
        return dataclasses.replace(self, port=port)

    def basic_auth(self) -> str | None:
        """An ``Authorization`` value (``Basic ...``) from the URL's user info, as curl sends
        it: user and password percent-decoded (RFC 3986), a missing password empty."""
        if self.userinfo is None:
            return None
        user, _, password = self.userinfo.partition(":")
        raw = unquote_to_bytes(user) + b":" + unquote_to_bytes(password)
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def hostport(self) -> str:
        """``host:port`` with brackets around IPv6 literals (``host`` alone without a port)."""
        return format_hostport(self.host, self.port)


def format_hostport(host: str, port: int | None) -> str:
    h = f"[{host}]" if ":" in host else host
    return h if port is None else f"{h}:{port}"


def _userinfo_span(url: str) -> tuple[int, int] | None:
    """Where the user info of ``url`` is (the part of the authority before its last ``@``),
    as :func:`urllib.parse.urlsplit` sees it; None when there is none."""
    i = url.find("://")
    if i < 0:
        return None
    start = i + 3
    end = len(url)
    for delim in "/?#":
        j = url.find(delim, start)
        if 0 <= j < end:
            end = j
    at = url.rfind("@", start, end)
    return None if at < 0 else (start, at)


def redact_userinfo(url: str) -> str:
    """``url`` with the password in its user info replaced by ``[redacted]``; a user name
    alone (it may be a token) is replaced whole. Anything else is left as it is."""
    span = _userinfo_span(url)
    if span is None:
        return url
    user, colon, password = url[span[0] : span[1]].partition(":")
    shown = f"{user}:{REDACTED_USERINFO}" if colon and password else REDACTED_USERINFO
    return url[: span[0]] + shown + url[span[1] :]


_AUTHORITY_ON = re.compile(r"//[^\s<>\"/?#]*")
"""A URL's authority inside a header value (``<...>`` in Link, ``url=...`` in Refresh): from
``//`` to the path, a space, a bracket or a double quote. It stops at the path, so the next
``//`` is looked at too (two URLs with only a comma between them: each is redacted); ``'``
may be in user info (RFC 3986), so it does not end one. The scheme before ``//`` does not
matter, and leaving it out of the pattern keeps the search linear (an optional scheme
before ``//`` would make a long run of letters quadratic)."""


def redact_userinfo_in(text: str) -> str:
    """``text`` with :func:`redact_userinfo` applied to every URL in it: a header value that
    holds URLs among other words (``Link: <https://u:p@h/>; rel=next``, ``Refresh: 0;
    url=https://u:p@h/``), scheme-relative ones (``//u@h/``) too."""
    if "@" not in text:
        return text
    return _AUTHORITY_ON.sub(lambda m: redact_userinfo("x:" + m.group(0))[2:], text)


def strip_userinfo(url: str) -> str:
    """``url`` without its ``user:password@``."""
    span = _userinfo_span(url)
    return url if span is None else url[: span[0]] + url[span[1] + 1 :]


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
    if "@" in text:  # never a host name; and what comes before it may be a password
        raise TargetError(
            f"'{REDACTED_USERINFO}@{text.rpartition('@')[2]}': user info (user@) goes only in a URL"
        )
    ip = _parse_ip(text)
    if ip is not None:
        return ip
    name = _ascii_name(text)
    _check_name(text, name)
    return name, None


def _parse_ip(text: str) -> tuple[str, int] | None:
    """(the address, 4 or 6) when ``text`` is an IP literal; None when it is not one, and
    :class:`TargetError` when it looks like one (a colon, or only digits and dots) but is not
    valid."""
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
    return None


def _ascii_name(text: str) -> str:
    """An internationalised name as IDNA A-labels (UTS #46 mapping); an ASCII name as it is."""
    if text.isascii():
        return text
    import idna  # only for internationalised names

    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise TargetError(f"'{text}' is not a valid internationalised domain name: {exc}") from None


def _check_name(text: str, name: str) -> None:
    """:class:`TargetError` unless ``name`` (``text`` in A-labels) is a valid host name: at
    most 253 characters, labels of letters, digits and inner hyphens (``xn--`` ones valid
    A-labels), the last one not all digits."""
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
        if label[:4].lower() == "xn--":
            _check_a_label(text, label)
    if bare.rsplit(".", 1)[-1].isdigit():
        raise TargetError(f"'{text}' is not a valid host name (the last label is all digits)")


def _check_a_label(text: str, label: str) -> None:
    """An ``xn--`` label must be a valid IDNA A-label: it decodes to a valid U-label (idna's
    rules, IDNA 2008) which encodes back to the same label."""
    import idna

    try:
        ok = idna.encode(idna.decode(label)).decode("ascii") == label.lower()
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise TargetError(
            f"'{text}' is not a valid host name (label '{label}' is not a valid IDNA A-label: "
            f"{exc})"
        ) from None
    if not ok:
        raise TargetError(
            f"'{text}' is not a valid host name (label '{label}' is not a valid IDNA A-label: "
            "not in canonical form)"
        )


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
    url = "://" in s
    shown = redact_userinfo(text)  # what error messages quote: never a password
    if not url and "@" in s:
        shown = f"{REDACTED_USERINFO}@{s.rpartition('@')[2]}"
    if any(c.isspace() or not c.isprintable() for c in s):
        raise TargetError(f"target '{shown}' contains white space or control characters")
    if url:
        return _parse_url(text, s, schemes)
    if "@" in s:
        raise TargetError(f"'{shown}': user info (user@) goes only in a URL")
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
    shown = redact_userinfo(text)
    scheme = s.split("://", 1)[0].lower()
    if schemes is None:
        raise TargetError(f"'{shown}': this command takes host or host:port, not a URL")
    if scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise TargetError(f"'{shown}': unsupported URL scheme '{scheme}' (use {allowed})")
    try:
        parts = urlsplit(s)
    except ValueError as exc:
        raise TargetError(f"'{shown}': {exc}") from None
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    port_text: str | None
    if hostinfo.startswith("["):
        end = hostinfo.find("]")
        if end < 0:
            raise TargetError(f"'{shown}': missing ']' after an IPv6 address")
        raw_host, rest = hostinfo[1:end], hostinfo[end + 1 :]
        # A zone in a URI is written %25 (RFC 6874: "[fe80::1%25eth0]"); a bare % is taken
        # too, as curl and browsers do.
        raw_host = raw_host.replace("%25", "%", 1)
        if rest and not rest.startswith(":"):
            raise TargetError(f"'{shown}': expected ':port' after ']'")
        port_text = rest[1:] if rest else None
    else:
        if hostinfo.count(":") > 1:
            raise TargetError(f"'{shown}': put IPv6 addresses in URLs in brackets")
        raw_host, colon, port_text = hostinfo.partition(":")
        port_text = port_text if colon else None
    if raw_host == "":
        raise TargetError(f"'{shown}': the URL has no host")
    port = schemes[scheme]
    if port_text:  # an empty port (``host:/``) is the scheme's default (RFC 3986)
        if not (port_text.isascii() and port_text.isdigit()):
            raise TargetError(
                f"'{shown}': invalid port '{port_text}': must be a number from 1 to 65535"
            )
        digits = port_text.lstrip("0")
        port = int(digits) if 0 < len(digits) <= 5 else 0
        if not 1 <= port <= 65535:
            raise TargetError(
                f"'{shown}': port '{port_text}' is out of range: must be from 1 to 65535"
            )
    host, version = parse_host(raw_host)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(shown, host, port, version, scheme, path, userinfo if at else None)
