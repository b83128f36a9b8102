"""`netdiag tls --starttls`: every step at which a mail server can refuse to start TLS, each
against a lab server that refuses there (netdiag.lab.starttls)."""

from __future__ import annotations

import socket

import pytest

from netdiag.net.starttls import upgrade


def starttls(cli, lab, case, protocol, *extra):
    return cli("tls", lab.endpoints[f"tls_starttls_{case}"], "--starttls", protocol, *extra)


@pytest.mark.parametrize(
    ("case", "protocol", "message"),
    [
        (
            "smtp_unavailable",
            "smtp",
            "SMTP greeting was not 220: 554 5.3.2 mail.lab.test no service today",
        ),
        ("smtp_ehlo_refused", "smtp", "EHLO was refused: 550 5.7.1 EHLO refused here"),
        ("smtp_no_starttls", "smtp", "the SMTP server does not offer STARTTLS"),
        ("smtp_refused", "smtp", "STARTTLS was refused: 454 4.7.0 TLS not available"),
        ("smtp_overlong", "smtp", "SMTP opening failed: the server sent an overlong line"),
        ("smtp_closes", "smtp", "SMTP opening failed: the server closed the connection"),
        ("smtp_early_data", "smtp", "the server sent data after agreeing to start TLS"),
        ("imap_bye", "imap", "IMAP greeting was not OK: * BYE mail.lab.test is shutting down"),
        ("imap_refused", "imap", "STARTTLS was refused: a1 BAD STARTTLS not supported"),
        ("pop3_err", "pop3", "POP3 greeting was not +OK: -ERR mail.lab.test is busy"),
        ("pop3_refused", "pop3", "STLS was refused: -ERR STLS not here"),
    ],
)
def test_each_refusal_is_a_starttls_error_that_quotes_the_server(cli, lab, case, protocol, message):
    r = starttls(cli, lab, case, protocol, "--timeout", "3", "--json")
    assert r.code == 1, r.out
    doc = r.json()
    assert doc["error"]["kind"] == "starttls"
    assert doc["error"]["message"].endswith(message), doc["error"]["message"]
    assert doc["starttls"] == protocol and doc["chain"] == []


def test_a_silent_mail_server_is_a_timeout(cli, lab):
    r = starttls(cli, lab, "smtp_silent", "smtp", "--timeout", "0.3", "--json")
    assert r.code == 1
    err = r.json()["error"]
    assert err["kind"] == "timeout"
    assert err["message"].endswith("the SMTP server did not answer within 0.3 s")


def test_refusal_in_text(cli, lab):
    r = starttls(cli, lab, "smtp_refused", "smtp", "--timeout", "3")
    assert r.code == 1
    assert "454 4.7.0 TLS not available" in r.out


def test_unknown_protocol_is_refused_before_a_byte_is_sent(lab):
    # The CLI refuses such a protocol as a usage error; the building block says so too.
    host, port = lab.endpoints["tls_starttls_smtp_silent"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as sock:
        err = upgrade(sock, "ftp", timeout=1)
    assert err is not None
    assert (err.kind, err.message) == ("starttls", "unknown STARTTLS protocol ftp")
