"""Secrets in ``netdiag http`` (credentials on redirects, URL user info, cookies) and the
bounded reading of the files ``http`` and ``tls`` are given, against the lab on loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from netdiag.files import MAX_BODY_BYTES, MAX_LIST_BYTES

# -- files named on the command line -----------------------------------------------------


def _one_line_usage_error(r, *fragments: str) -> None:
    assert r.code == 2, (r.out, r.err)
    assert r.out == ""
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err
    for f in fragments:
        assert f in r.err, r.err


@pytest.mark.parametrize(
    "args",
    [
        ["http", "http://127.0.0.1:9/", "-d", "@/dev/zero"],
        ["http", "http://127.0.0.1:9/", "--ca-file", "/dev/zero"],
        ["tls", "127.0.0.1:9", "--ca-file", "/dev/zero"],
    ],
)
def test_devices_are_refused(cli, args):
    _one_line_usage_error(cli(*args), "/dev/zero", "not a regular file")


def test_body_file_over_the_limit_is_refused(cli, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as f:  # sparse: no disk space used
        f.truncate(MAX_BODY_BYTES + 1)
    r = cli("http", "http://127.0.0.1:9/", "-d", f"@{big}")
    _one_line_usage_error(r, "-d @", "more than the limit of 64 MiB")


def _http_with_stdin(stdin, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netdiag", "http", *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_body_from_standard_input(lab, tmp_path):
    body = "line one\nline two\n"  # sent as it is, newlines kept (curl's --data-binary)
    piped = subprocess.run(
        [sys.executable, "-m", "netdiag", "http", lab.urls["http"] + "/echo", "-d", "@-", "--body"],
        input=body,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert f"POST {len(body)} bytes" in piped.stdout and "line two" in piped.stdout
    file = tmp_path / "body.txt"
    file.write_text(body)
    with file.open("rb") as f:  # a redirect (< FILE) is a regular file
        redirected = _http_with_stdin(f, lab.urls["http"] + "/echo", "-d", "@-", "--body")
    assert redirected.returncode == 0 and f"POST {len(body)} bytes" in redirected.stdout
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(MAX_BODY_BYTES + 1)
    with big.open("rb") as f:
        r = _http_with_stdin(f, "http://127.0.0.1:9/", "-d", "@-")
    assert r.returncode == 2 and "-d @-: standard input" in r.stderr and "64 MiB" in r.stderr
    nothing = _http_with_stdin(subprocess.DEVNULL, "http://127.0.0.1:9/", "-d", "@-")
    assert nothing.returncode == 2 and "standard input is empty (/dev/null" in nothing.stderr
    assert len(nothing.stderr.strip().splitlines()) == 1 and "Traceback" not in nothing.stderr


def test_body_from_a_terminal_is_refused(lab):
    import pty

    leader, follower = pty.openpty()
    try:
        r = _http_with_stdin(follower, "http://127.0.0.1:9/", "-d", "@-")
    finally:
        os.close(leader)
        os.close(follower)
    assert r.returncode == 2 and "standard input is a terminal" in r.stderr


@pytest.mark.parametrize("command", ["http", "tls"])
def test_ca_file_over_the_limit_is_refused(cli, tmp_path, command):
    big = tmp_path / "big.pem"
    with big.open("wb") as f:
        f.truncate(MAX_LIST_BYTES + 1)
    target = "https://127.0.0.1:9/" if command == "http" else "127.0.0.1:9"
    r = cli(command, target, "--ca-file", str(big))
    _one_line_usage_error(r, "--ca-file", "more than the limit of 4 MiB")


@pytest.mark.parametrize("command", ["http", "tls"])
def test_ca_file_missing_or_without_certificates(cli, tmp_path, command):
    target = "https://127.0.0.1:9/" if command == "http" else "127.0.0.1:9"
    r = cli(command, target, "--ca-file", str(tmp_path / "absent.pem"))
    _one_line_usage_error(r, "--ca-file", "No such file")
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificate here\n")
    _one_line_usage_error(cli(command, target, "--ca-file", str(empty)), "no PEM certificate")


def test_body_from_a_file_and_from_a_pipe(cli, lab, tmp_path):
    body = tmp_path / "body.txt"
    body.write_bytes(b"x" * 1000)
    doc = cli("http", lab.urls["http"] + "/echo", "-d", f"@{body}", "--body", "--json").json()
    assert doc["hops"][0]["body"]["text"].startswith("POST 1000 bytes\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # the writer end of the pipe, as <(command) would be
    code = f"open({str(fifo)!r}, 'wb').write(b'from a pipe')"
    writer = subprocess.Popen([sys.executable, "-c", code])
    try:
        doc = cli("http", lab.urls["http"] + "/echo", "-d", f"@{fifo}", "--body", "--json").json()
    finally:
        writer.wait(timeout=10)
    assert doc["hops"][0]["body"]["text"] == "POST 11 bytes\nfrom a pipe"


def test_ca_file_is_used_for_every_hop(cli, lab):
    # read once by the command; both https hops (a fresh connection each) trust it
    doc = cli(
        "http",
        lab.urls["http"] + "/redirect/https",
        "-L",
        "--ca-file",
        lab.files["tls_ca_file"],
        "--json",
    ).json()
    assert doc["ok"], doc["error"]
    assert doc["hops"][1]["tls"]["trusted"] is True


# -- credentials on redirects ------------------------------------------------------------

SECRETS = ("Bearer tok-s3cret", "id=cookie-s3cret", "Basic proxy-s3cret")
SECRET_ARGS = (
    "-H",
    f"Authorization: {SECRETS[0]}",
    "-H",
    f"Cookie: {SECRETS[1]}",
    "-H",
    f"Proxy-Authorization: {SECRETS[2]}",
)


@pytest.fixture
def http(cli, lab):
    """``netdiag http`` on a lab URL (the lab CA trusted); JSON unless ``json=False``."""

    def run(url, *args, json=True):
        ca = ["--ca-file", lab.files["tls_ca_file"]]
        return cli("http", url, *ca, *args, *(["--json"] if json else []))

    return run


def _received(hop) -> dict[str, str]:
    """What the lab's /echo/headers says it received."""
    lines = hop["body"]["text"].splitlines()
    return dict(line.split(": ", 1) for line in lines)


def _assert_not_shown(out: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in out, f"{s!r} shown"


@pytest.mark.parametrize(
    ("path", "change"),
    [("/redirect/other-port", "port"), ("/redirect/http", "scheme and port")],
)
def test_credentials_dropped_on_another_origin(http, lab, path, change):
    r = http(lab.urls["https"] + path, "-L", "--body", *SECRET_ARGS)
    assert r.code == 0, r.out
    first, second = r.json()["hops"]
    sent_first = {n.lower() for n, _ in first["request_headers"]}
    assert {"authorization", "cookie", "proxy-authorization"} <= sent_first
    received = _received(second)
    assert "host" in received and "user-agent" in received
    assert not {"authorization", "cookie", "proxy-authorization"} & set(received), change
    assert not {"authorization", "cookie", "proxy-authorization"} & {
        n.lower() for n, _ in second["request_headers"]
    }
    _assert_not_shown(r.out, *SECRETS)


def test_credentials_dropped_when_only_the_scheme_changes(http, lab):
    # https://127.0.0.1:P -> http://127.0.0.1:P: the plain request to the TLS port fails, but
    # the hop shows what was sent (--show-secrets would show a credential if one were sent)
    r = http(lab.urls["https"] + "/redirect/downgrade", "-L", "--show-secrets", *SECRET_ARGS)
    first, second = r.json()["hops"]
    assert second["url"] == lab.urls["https"].replace("https", "http") + "/echo/headers"
    assert dict(first["request_headers"])["Authorization"] == SECRETS[0]
    sent = {n.lower() for n, _ in second["request_headers"]}
    assert "user-agent" in sent
    assert not {"authorization", "cookie", "proxy-authorization"} & sent
    assert all(r.out.count(secret) == 1 for secret in SECRETS)  # the first hop's only


def test_credentials_kept_on_the_same_origin(http, lab):
    r = http(lab.urls["http"] + "/redirect/same-origin", "-L", "--body", *SECRET_ARGS)
    assert r.code == 0
    received = _received(r.json()["hops"][1])
    assert received["authorization"] == SECRETS[0] and received["cookie"] == SECRETS[1]


def test_credentials_dropped_on_upgrade(http, lab):
    r = http(lab.urls["http"] + "/redirect/https", "-L", "--show-secrets", *SECRET_ARGS)
    assert r.code == 0, r.out
    assert "Authorization" not in dict(r.json()["hops"][1]["request_headers"])


# -- user:password@ in a URL -------------------------------------------------------------

PASSWORD = "pa55:w@rd"
ENCODED = "pa55%3Aw%40rd"


def _with_userinfo(base: str, userinfo: str) -> str:
    return base.replace("://", f"://{userinfo}@", 1)


def test_url_userinfo_is_basic_auth_and_redacted(http, lab):
    import base64

    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    url = _with_userinfo(lab.urls["http"], f"alice:{ENCODED}") + "/echo/headers"
    r = http(url, "--body")
    assert r.code == 0, r.out
    doc = r.json()
    [hop] = doc["hops"]
    assert _received(hop)["authorization"] == f"Basic {token}"  # percent-decoded
    shown_url = lab.urls["http"].replace("://", "://alice:[redacted]@") + "/echo/headers"
    assert doc["url"] == hop["url"] == shown_url
    assert dict(hop["request_headers"])["Authorization"].startswith("[redacted")
    names = [n for n, _ in hop["request_headers"]]
    assert names[:3] == ["Host", "Authorization", "User-Agent"]  # curl's order
    for json in (True, False):
        out = http(url, json=json).out  # without --body: the echo is not printed
        _assert_not_shown(out, ENCODED, PASSWORD, token)
        assert "alice:[redacted]@" in out
    shown = http(url, "--show-secrets").json()["hops"][0]
    assert dict(shown["request_headers"])["Authorization"] == f"Basic {token}"
    assert ENCODED not in shown["url"]  # --show-secrets shows headers, not URL passwords


def test_user_name_alone_is_redacted_whole(http, lab):
    url = _with_userinfo(lab.urls["http"], "tok-s3cret") + "/echo/headers"
    r = http(url, "--body")
    received = _received(r.json()["hops"][0])
    assert received["authorization"] == "Basic dG9rLXMzY3JldDo="  # tok-s3cret:
    r = http(url)
    assert r.json()["url"].startswith("http://[redacted]@127.0.0.1:")
    _assert_not_shown(r.out, "tok-s3cret", "dG9rLXMzY3JldDo=")


def test_explicit_authorization_wins_over_url_userinfo(http, lab):
    url = _with_userinfo(lab.urls["http"], f"alice:{ENCODED}") + "/echo/headers"
    r = http(url, "--body", "--show-secrets", "-H", "Authorization: Bearer explicit")
    hop = r.json()["hops"][0]
    assert [v for n, v in hop["request_headers"] if n.lower() == "authorization"] == [
        "Bearer explicit"
    ]
    assert _received(hop)["authorization"] == "Bearer explicit"


def test_url_userinfo_kept_on_same_origin_and_never_sent_elsewhere(http, lab):
    same = _with_userinfo(lab.urls["http"], f"alice:{ENCODED}") + "/redirect/same-origin"
    doc = http(same, "-L", "--body").json()
    assert _received(doc["hops"][1])["authorization"].startswith("Basic ")
    other = _with_userinfo(lab.urls["https"], f"alice:{ENCODED}") + "/redirect/http"
    r = http(other, "-L", "--body")
    assert r.code == 0, r.out
    _, second = r.json()["hops"]
    assert _received(second).get("authorization") is None
    assert second["url"] == lab.urls["http"] + "/echo/headers"
    _assert_not_shown(r.out, ENCODED, PASSWORD)


def test_location_userinfo_is_not_used_and_never_shown(http, lab):
    from netdiag.lab.http import LAB_LOCATION_SECRET

    r = http(lab.urls["http"] + "/redirect/userinfo", "-L", "--body")
    assert r.code == 0, r.out
    doc = r.json()
    first, second = doc["hops"]
    assert first["redirect_to"] == (
        lab.urls["http"].replace("://", "://lab-user:[redacted]@") + "/echo/headers"
    )
    assert dict(first["response_headers"])["Location"] == first["redirect_to"]
    assert second["url"] == doc["url"] == lab.urls["http"] + "/echo/headers"
    assert "authorization" not in _received(second)
    _assert_not_shown(r.out, LAB_LOCATION_SECRET)
    text = http(lab.urls["http"] + "/redirect/userinfo", "-L", json=False).out
    _assert_not_shown(text, LAB_LOCATION_SECRET)
    assert "lab-user:[redacted]@" in text
    # --show-secrets shows the response headers as received, the Location included
    shown = http(lab.urls["http"] + "/redirect/userinfo", "-L", "--show-secrets").json()
    assert LAB_LOCATION_SECRET in dict(shown["hops"][0]["response_headers"])["Location"]
    assert LAB_LOCATION_SECRET not in shown["hops"][0]["redirect_to"]


def test_userinfo_in_any_response_header_is_never_shown(http, lab):
    from netdiag.lab.http import LAB_LOCATION_SECRET

    url = lab.urls["http"] + "/links"
    r = http(url)
    assert r.code == 0, r.out
    headers = dict(r.json()["hops"][0]["response_headers"])
    assert headers["Refresh"] == "30; url=http://lab-user:[redacted]@127.0.0.1/echo/headers"
    assert headers["Link"] == (
        "<https://lab-user:[redacted]@127.0.0.1/a>; rel=next, <//[redacted]@h.test/b>"
    )
    assert headers["Content-Location"] == "http://lab-user:[redacted]@127.0.0.1/links"
    assert headers["Content-Security-Policy"] == (
        "default-src 'self'; report-uri https://lab-user:[redacted]@127.0.0.1/r"
    )
    _assert_not_shown(r.out, LAB_LOCATION_SECRET)
    _assert_not_shown(http(url, json=False).out, LAB_LOCATION_SECRET)
    shown = dict(http(url, "--show-secrets").json()["hops"][0]["response_headers"])
    assert LAB_LOCATION_SECRET in shown["Refresh"] and LAB_LOCATION_SECRET in shown["Link"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0; url=https://u:p@h/x", "0; url=https://u:[redacted]@h/x"),
        ("<https://h/a@b>; rel=x", "<https://h/a@b>; rel=x"),  # an @ in the path is no user
        ("<//tok@h/>, <HTTP://a:b@h>", "<//[redacted]@h/>, <HTTP://a:[redacted]@h>"),
        ("mailto:x@y, no url", "mailto:x@y, no url"),
        ("5; URL='http://u:p;q,r@h/'", "5; URL='http://u:[redacted]@h/'"),
        # an apostrophe is allowed in user info, and is not the end of the URL
        (
            "<https://h/>; rel=a, <https://u:it's@h/>",
            "<https://h/>; rel=a, <https://u:[redacted]@h/>",
        ),
        # two URLs with only a comma between them
        ("https://h/x,https://u:p@h/", "https://h/x,https://u:[redacted]@h/"),
        ("//a:p@h/,//b:q@h/", "//a:[redacted]@h/,//b:[redacted]@h/"),
    ],
)
def test_redact_userinfo_in(value, shown):
    from netdiag.targets import redact_userinfo_in

    assert redact_userinfo_in(value) == shown
    assert redact_userinfo_in(shown) == shown


@pytest.mark.parametrize("value", ["a" * 200_000 + "@", "//" * 100_000 + "@", "a:" * 100_000 + "@"])
def test_redact_userinfo_in_is_linear_on_hostile_values(value):
    import time

    from netdiag.targets import redact_userinfo_in

    started = time.process_time()
    redact_userinfo_in(value)
    assert time.process_time() - started < 0.5  # a quadratic search took minutes here


def test_password_not_in_errors(cli, lab):
    r = cli("http", f"http://u:{ENCODED}@127.0.0.1:0/")
    assert r.code == 2 and "port '0'" in r.err and ENCODED not in r.err
    refused = lab.endpoints["tcp_refused"]
    for args in ([], ["--json"]):
        r = cli("http", f"http://u:{ENCODED}@{refused}/", *args)
        assert r.code == 1
        _assert_not_shown(r.out + r.err, ENCODED, PASSWORD)


def test_tls_target_userinfo_redacted(cli, lab):
    url = _with_userinfo(lab.urls["https"], f"u:{ENCODED}")
    for args in (["--json"], []):
        r = cli("tls", url, "--ca-file", lab.files["tls_ca_file"], *args)
        assert r.code == 0, r.out
        _assert_not_shown(r.out, ENCODED, PASSWORD)
        assert "u:[redacted]@" in r.out


# -- Set-Cookie ----------------------------------------------------------------------------


def test_set_cookie_redacted_unless_asked(http, lab):
    from netdiag.lab.http import LAB_COOKIE_SECRET

    r = http(lab.urls["http"] + "/cookies")
    assert r.code == 0
    headers = r.json()["hops"][0]["response_headers"]
    cookies = [v for n, v in headers if n.lower().startswith("set-cookie")]
    assert cookies == [
        "session=[redacted: --show-secrets to show]; Path=/; HttpOnly; SameSite=Lax",
        "other=[redacted: --show-secrets to show]; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
        "legacy=[redacted: --show-secrets to show]; [?]",
    ]
    _assert_not_shown(r.out, LAB_COOKIE_SECRET)
    text = http(lab.urls["http"] + "/cookies", json=False).out
    _assert_not_shown(text, LAB_COOKIE_SECRET)
    assert "< Set-Cookie: session=[redacted" in text
    shown = http(lab.urls["http"] + "/cookies", "--show-secrets").json()
    values = [v for n, v in shown["hops"][0]["response_headers"] if n == "Set-Cookie"]
    assert values[0] == f"session={LAB_COOKIE_SECRET}; Path=/; HttpOnly; SameSite=Lax"


def test_redirect_with_cookies_still_followed(http, lab):
    from netdiag.lab.http import LAB_COOKIE_SECRET

    for json in (True, False):
        r = http(lab.urls["http"] + "/redirect/cookie", "-L", json=json)
        assert r.code == 0, r.out
        _assert_not_shown(r.out, LAB_COOKIE_SECRET)
    doc = http(lab.urls["http"] + "/redirect/cookie", "-L").json()
    assert [h["status"] for h in doc["hops"]] == [302, 200]
    assert doc["url"] == lab.urls["http"] + "/echo/headers"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a=1", "a=R"),
        ("a=1; Secure; Path=/x; Domain=.test", "a=R; Secure; Path=/x; Domain=.test"),
        ("novalue", "R"),
        ("a=1; Path=/, b=2", "a=R; [?]"),  # folded cookies: the second one is not shown
        ("a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT, b=2", "a=R; [?]"),
        ("a=1; Unknown=secret", "a=R; [?]"),
        ("a=1, b=2", "a=R"),
    ],
)
def test_cookie_values_never_leak(value, shown):
    from netdiag.probes.http import REDACTED, _shown_cookie

    assert _shown_cookie(value) == shown.replace("=R", "=" + REDACTED).replace("R", REDACTED)
