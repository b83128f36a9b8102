"""``--web-config FILE``: TLS and basic auth for the listener, in the format of Prometheus's
exporter-toolkit (``web-config.yml``, as blackbox_exporter and node_exporter read it), so one
file serves both:

.. code-block:: yaml

    tls_server_config:
      cert_file: server.crt      # relative paths: from the file's directory
      key_file: server.key
      min_version: TLS12         # optional: TLS10, TLS11, TLS12, TLS13
      max_version: TLS13         # optional
    basic_auth_users:
      prometheus: $2b$12$...     # bcrypt hashes only (htpasswd -nBC 12 '' | tr -d ':\\n')

Read with PyYAML's ``safe_load`` (no tags, no objects); hashes are checked with ``bcrypt``:
both are in the ``netdiag[serve-auth]`` extra. A key netdiag does not support
(``client_auth_type``, ``cipher_suites``, ``http_server_config``...) is an error at
start-up, never silently ignored: a file meant to require client certificates must not
serve without them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

MAX_WEB_CONFIG_BYTES = 1 << 20
_TLS_KEYS = ("cert_file", "key_file", "min_version", "max_version")
_EXPORTER_TOOLKIT_TLS_KEYS = (
    "cert",
    "key",
    "client_auth_type",
    "client_ca_file",
    "client_ca",
    "client_allowed_sans",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
)
_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")
_AUTH_CACHE_SIZE = 64


class WebConfigError(ValueError):
    """The web config is wrong or cannot be used: one line naming the file and the key."""


@dataclass(frozen=True, slots=True)
class WebConfig:
    path: str
    cert_file: str | None = None
    key_file: str | None = None
    min_version: str | None = None
    max_version: str | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    """User name -> bcrypt hash."""


def _yaml(path: str) -> Any:
    from netdiag.files import FileError, read_text_bounded

    try:
        import yaml
    except ImportError:
        raise WebConfigError(
            f"{path}: reading a web config needs PyYAML and bcrypt: "
            "pip install 'netdiag[serve-auth]'"
        ) from None
    try:
        text = read_text_bounded(path, MAX_WEB_CONFIG_BYTES)
    except FileError as exc:
        raise WebConfigError(str(exc)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise WebConfigError(f"{path}: not a YAML file{at}") from None


def _tls(path: str, doc: Any) -> dict[str, str]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise WebConfigError(f"{path}: tls_server_config: takes a mapping")
    out: dict[str, str] = {}
    base = os.path.dirname(os.path.abspath(path))
    for key, value in doc.items():
        if key in _EXPORTER_TOOLKIT_TLS_KEYS:
            raise WebConfigError(
                f"{path}: tls_server_config.{key}: not supported by netdiag serve "
                "(supported: cert_file, key_file, min_version, max_version)"
            )
        if key not in _TLS_KEYS:
            raise WebConfigError(f"{path}: tls_server_config.{key}: unknown key")
        if not isinstance(value, str) or not value:
            raise WebConfigError(f"{path}: tls_server_config.{key}: takes a non-empty string")
        if key in ("min_version", "max_version"):
            if value not in _VERSIONS:
                raise WebConfigError(
                    f"{path}: tls_server_config.{key}: one of {', '.join(_VERSIONS)}, not {value!r}"
                )
            out[key] = value
        else:
            out[key] = os.path.join(base, value)
    if ("cert_file" in out) != ("key_file" in out):
        raise WebConfigError(f"{path}: tls_server_config: needs both cert_file and key_file")
    if out and "cert_file" not in out:
        raise WebConfigError(f"{path}: tls_server_config: needs cert_file and key_file")
    return out


def _users(path: str, doc: Any) -> dict[str, bytes]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise WebConfigError(f"{path}: basic_auth_users: takes a mapping of user: bcrypt hash")
    users: dict[str, bytes] = {}
    for user, hashed in doc.items():
        if not isinstance(user, str) or not user or ":" in user:
            raise WebConfigError(f"{path}: basic_auth_users: {user!r} is not a user name")
        if (
            not isinstance(hashed, str)
            or not hashed.startswith(("$2a$", "$2b$", "$2y$"))
            or len(hashed) != 60
        ):
            raise WebConfigError(
                f"{path}: basic_auth_users.{user}: takes a bcrypt hash ($2b$..., 60 characters)"
            )
        users[user] = hashed.encode("ascii", "replace")
    if users:
        try:
            import bcrypt  # noqa: F401
        except ImportError:
            raise WebConfigError(
                f"{path}: basic_auth_users needs bcrypt: pip install 'netdiag[serve-auth]'"
            ) from None
    return users


def load_web_config(path: str) -> WebConfig:
    """The web config of ``path``, checked whole (the certificate and key load);
    :class:`WebConfigError` naming what is wrong."""
    doc = _yaml(path)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise WebConfigError(f"{path}: takes a mapping (tls_server_config, basic_auth_users)")
    for key in doc:
        if key not in ("tls_server_config", "basic_auth_users"):
            raise WebConfigError(
                f"{path}: {key}: not supported by netdiag serve "
                "(supported: tls_server_config, basic_auth_users)"
            )
    tls = _tls(path, doc.get("tls_server_config"))
    config = WebConfig(
        path=path,
        cert_file=tls.get("cert_file"),
        key_file=tls.get("key_file"),
        min_version=tls.get("min_version"),
        max_version=tls.get("max_version"),
        users=_users(path, doc.get("basic_auth_users")),
    )
    if config.cert_file is not None:
        server_ssl_context(config)  # a certificate that does not load: an error now
    return config


def server_ssl_context(config: WebConfig) -> ssl.SSLContext:
    import ssl

    versions = {
        "TLS10": ssl.TLSVersion.TLSv1,
        "TLS11": ssl.TLSVersion.TLSv1_1,
        "TLS12": ssl.TLSVersion.TLSv1_2,
        "TLS13": ssl.TLSVersion.TLSv1_3,
    }
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = versions[config.min_version or "TLS12"]
    if config.max_version is not None:
        context.maximum_version = versions[config.max_version]
    assert config.cert_file is not None
    try:
        context.load_cert_chain(config.cert_file, config.key_file)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise WebConfigError(
            f"{config.path}: tls_server_config: cannot load {config.cert_file} and "
            f"{config.key_file}: {exc}"
        ) from None
    context.set_alpn_protocols(["http/1.1"])
    return context


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes. A user name that is not known
    is checked against a stand-in hash all the same, so the time taken does not say which
    names exist; credentials that passed are remembered (by their SHA-256, compared with
    :func:`hmac.compare_digest`), as exporter-toolkit does, so that a scrape does not pay for
    bcrypt each time."""

    def __init__(self, users: dict[str, bytes]) -> None:
        import bcrypt

        self._users = users
        self._stand_in = bcrypt.hashpw(b"netdiag-stand-in", bcrypt.gensalt(rounds=10))
        self._passed: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def check(self, header: bytes | None) -> bool:
        import bcrypt

        credentials = _basic(header)
        if credentials is None:
            return False
        user, password = credentials
        digest = hashlib.sha256(user.encode() + b"\0" + password).digest()
        with self._lock:
            known = self._passed.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        hashed = self._users.get(user)
        try:
            ok = bcrypt.checkpw(password, hashed if hashed is not None else self._stand_in)
        except ValueError:
            ok = False
        ok = ok and hashed is not None
        if ok:
            with self._lock:
                if len(self._passed) >= _AUTH_CACHE_SIZE:
                    self._passed.clear()
                self._passed[user] = digest
        return ok


def _basic(header: bytes | None) -> tuple[str, bytes] | None:
    """(user, password) of an ``Authorization: Basic`` header; None when it is not one."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
