"""`netdiag tls` against the lab's TLS servers, with a private PKI made at lab start."""

from __future__ import annotations

import re

import pytest
from conftest import interrupt
from golden_util import assert_golden, normalise

CERT_KEYS = {
    "position",
    "subject",
    "issuer",
    "san_dns",
    "san_ip",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "key_type",
    "key_size",
    "key_curve",
    "signature_algorithm",
    "sha256",
    "is_ca",
    "self_signed",
    "pem",
}


@pytest.fixture
def tls(cli, lab):
    """Run `netdiag tls` on a lab case, with its SNI name and the lab root as the CA file."""

    def run(case, *extra, sni=True, ca=True, json=True):
        args = ["tls", lab.endpoints[f"tls_{case}"]]
        if sni:
            args += ["--sni", lab.tls_names[f"tls_{case}"]]
        if ca:
            args += ["--ca-file", lab.files["tls_ca_file"]]
        args += [*extra, "--timeout", "3"]
        if json:
            args.append("--json")
        return cli(*args)

    return run


def test_good_chain(tls):
    r = tls("good", "--alpn", "h2,http/1.1")
    assert r.code == 0, r.out
    doc = r.json()
    assert (doc["command"], doc["ok"], doc["error"], doc["problems"]) == ("tls", True, None, [])
    assert doc["trusted"] is True and doc["hostname_match"] is True
    assert doc["sni"] == doc["verify_name"] == "good.lab.test"
    assert doc["protocol"] == "TLSv1.3" and doc["cipher"] and doc["cipher_bits"] >= 128
    assert doc["alpn"] == "h2"
    assert doc["tcp_connect_ms"] > 0 and doc["handshake_ms"] > 0 and doc["dns_ms"] is None
    assert doc["ocsp"] == {
        "stapled": False,
        "status": None,
        "this_update": None,
        "next_update": None,
        "detail": None,
    }
    leaf, inter = doc["chain"]
    assert set(leaf) == CERT_KEYS
    assert "CN=good.lab.test" in leaf["subject"]
    assert "CN=netdiag lab intermediate CA" in leaf["issuer"] == inter["subject"]
    assert leaf["san_dns"] == ["good.lab.test"] and leaf["san_ip"] == []
    assert (leaf["key_type"], leaf["key_size"], leaf["key_curve"]) == ("EC", 256, "secp256r1")
    assert leaf["signature_algorithm"] == "ecdsa-with-SHA256"
    assert re.fullmatch(r"([0-9a-f]{2}:){31}[0-9a-f]{2}", leaf["sha256"])
    assert leaf["is_ca"] is False and inter["is_ca"] is True
    assert not leaf["self_signed"] and not inter["self_signed"]
    assert 85 <= leaf["days_left"] <= 90
    assert leaf["not_after"].endswith("Z") and leaf["pem"] is None
    assert doc["earliest_expiry"]["position"] == 0


def test_golden_json(tls, lab):
    doc = tls("good").json()
    port = lab.endpoints["tls_good"].rsplit(":", 1)[1]
    doc = normalise(doc, {port: "<PORT>", lab.files["tls_ca_file"]: "<CA_FILE>"})
    for cert in doc["chain"]:
        for k in ("serial", "sha256", "not_before", "not_after", "days_left"):
            cert[k] = f"<{k}>"
    doc["earliest_expiry"]["not_after"] = "<not_after>"
    doc["earliest_expiry"]["days_left"] = "<days_left>"
    assert_golden("tls_good", doc)


def test_rsa_leaf(tls):
    doc = tls("rsa").json()
    assert doc["ok"]
    assert (doc["chain"][0]["key_type"], doc["chain"][0]["key_size"]) == ("RSA", 2048)
    assert doc["chain"][0]["key_curve"] is None


@pytest.mark.parametrize(
    ("case", "kind", "trusted", "path", "match", "length"),
    [
        ("expired", "cert_expired", False, True, True, 2),
        ("not_yet_valid", "cert_not_yet_valid", False, True, True, 2),
        ("wrong_host", "hostname_mismatch", True, True, False, 2),
        ("no_intermediate", "incomplete_chain", False, False, True, 1),
        ("self_signed", "self_signed", False, False, True, 1),
    ],
)
def test_defects(tls, case, kind, trusted, path, match, length):
    r = tls(case)
    assert r.code == 1
    doc = r.json()
    assert doc["ok"] is False
    assert doc["error"]["kind"] == kind
    assert doc["problems"][0]["kind"] == kind
    assert (doc["trusted"], doc["path_to_trust_anchor"]) == (trusted, path)
    assert (doc["hostname_match"], len(doc["chain"])) == (match, length)


def test_expired_details(tls):
    doc = tls("expired").json()
    assert doc["chain"][0]["days_left"] == -1
    assert "1 day ago" in doc["error"]["message"]


def _report(lab, case):
    from pathlib import Path

    from netdiag.commands.tls import prepare

    return prepare(
        target=lab.endpoints[f"tls_{case}"],
        sni=lab.tls_names[f"tls_{case}"],
        no_sni=False,
        ca_file=Path(lab.files["tls_ca_file"]),
        min_days=None,
        warn_days=30,
        alpn=None,
        starttls=None,
        timeout=3.0,
        ipv4=False,
        ipv6=False,
        pem=False,
    )()


def _drawn(report, width):
    import io

    from rich.console import Console

    from netdiag.views.tls import tls_view

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=width)
    for item in tls_view(report):  # as netdiag's output prints a view: an item a line
        console.print(item)
    return re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())


@pytest.mark.parametrize(("width", "per_line"), [(200, 32), (80, 16), (60, 16), (50, 8)])
def test_fingerprint_folds_between_bytes_only(lab, width, per_line):
    report = _report(lab, "good")
    text = _drawn(report, width)
    fp = report.chain[0].sha256
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("sha256 "))
    rows = [line.strip() for line in lines[at : at + 32 // per_line]]
    assert "".join(rows) == f"sha256 {fp}"  # every byte whole, in order
    assert rows[0].removeprefix("sha256 ") == fp[: per_line * 3 - (1 if per_line == 32 else 0)]
    assert all(len(line) <= width for line in lines[at : at + 32 // per_line])


def test_first_to_expire_says_expired(tls, lab):
    text = _drawn(_report(lab, "expired"), 100)
    line = next(x for x in text.splitlines() if x.startswith("first to expire"))
    assert re.fullmatch(r"first to expire: certificate 0, expired on \S+Z, 1 day ago", line)
    good = _drawn(_report(lab, "good"), 100)
    line = next(x for x in good.splitlines() if x.startswith("first to expire"))
    assert re.fullmatch(r"first to expire: certificate \d, on \S+Z \(\d+ days left\)", line)


@pytest.mark.parametrize(
    ("hours", "days"),
    [(25, 1), (3, 0), (-3, -1), (-25, -1), (-49, -2)],  # negative exactly when expired
)
def test_days_left(hours, days):
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from netdiag.net.certs import Served, _validity_problems, days_left

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(hours=hours))
        .sign(key, hashes.SHA256())
    )
    assert days_left(cert, now) == days
    if hours == -3:
        (expired,) = _validity_problems([Served(cert)], now)
        assert expired.message.endswith("(less than a day ago)")


def test_self_signed_flag(tls):
    doc = tls("self_signed").json()
    assert doc["chain"][0]["self_signed"] is True


def test_expiring_soon_only_with_min_days(tls):
    assert tls("expiring").code == 0
    r = tls("expiring", "--min-days", "14")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "expiring_soon"
    assert "in 5 days" in doc["error"]["message"]
    assert doc["earliest_expiry"]["days_left"] == 5
    assert tls("expiring", "--min-days", "5").code == 0


def test_min_days_sees_the_intermediate(tls):
    r = tls("short_intermediate", "--min-days", "7")
    assert r.code == 1
    doc = r.json()
    assert doc["earliest_expiry"]["position"] == 1
    assert "short-lived intermediate" in doc["earliest_expiry"]["subject"]
    assert "certificate 1" in doc["error"]["message"]


def test_ip_address_san_checked_without_sni(tls):
    r = tls("ip_san", sni=False)
    assert r.code == 0, r.out
    doc = r.json()
    assert doc["sni"] is None and doc["verify_name"] == "127.0.0.1"
    assert doc["chain"][0]["san_ip"] == ["127.0.0.1"]
    assert tls("ip_san").json()["error"]["kind"] == "hostname_mismatch"


@pytest.mark.parametrize(("case", "protocol"), [("tls12", "TLSv1.2"), ("tls13", "TLSv1.3")])
def test_protocol_versions(tls, case, protocol):
    doc = tls(case).json()
    assert doc["ok"] and doc["protocol"] == protocol


@pytest.mark.parametrize(("case", "kind"), [("not_tls", "not_tls"), ("reset", "handshake_failed")])
def test_no_handshake(tls, case, kind):
    r = tls(case, sni=False)
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == kind
    assert doc["chain"] == [] and doc["trusted"] is None and doc["tcp_connect_ms"] > 0


def test_refused_and_timeout(cli, lab):
    r = cli("tls", lab.endpoints["tcp_refused"], "--json")
    assert (r.code, r.json()["error"]["kind"]) == (1, "refused")
    r = cli("tls", lab.endpoints["tcp_silent"], "--timeout", "0.3", "--json")
    assert (r.code, r.json()["error"]["kind"]) == (1, "timeout")


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3"])
def test_starttls(tls, protocol):
    r = tls(f"starttls_{protocol}", "--starttls", protocol)
    assert r.code == 0, r.out
    doc = r.json()
    assert doc["starttls"] == protocol and doc["trusted"] and len(doc["chain"]) == 2


def test_starttls_against_a_server_that_does_not_speak_it(tls):
    r = tls("not_tls", "--starttls", "smtp", sni=False)
    assert r.code == 1
    assert r.json()["error"]["kind"] == "starttls"


def test_ocsp_staple(tls):
    doc = tls("ocsp").json()
    assert doc["ok"]
    assert doc["ocsp"]["stapled"] is True and doc["ocsp"]["status"] == "good"
    assert doc["ocsp"]["next_update"].endswith("Z")


def test_untrusted_issuer_with_another_ca(tls, cli, lab, tmp_path):
    from netdiag.lab.pki import make_ca, pem

    other = tmp_path / "other-ca.pem"
    other.write_bytes(pem(make_ca("some other root").cert))
    r = cli(
        "tls",
        lab.endpoints["tls_good"],
        "--sni",
        "good.lab.test",
        "--ca-file",
        str(other),
        "--json",
    )
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "untrusted_issuer" and doc["trusted"] is False
    assert len(doc["chain"]) == 2  # the chain is shown, whatever the verdict


def test_system_trust_store_is_used_without_ca_file(tls, monkeypatch, lab):
    monkeypatch.setenv("SSL_CERT_FILE", lab.files["tls_ca_file"])
    doc = tls("good", ca=False).json()
    assert doc["ok"] and doc["trust_store"] == lab.files["tls_ca_file"]


def test_no_trust_store_exits_3(tls, monkeypatch):
    import netdiag.net.certs as certs  # where the chain is judged, for tls and http alike

    monkeypatch.setattr(certs, "system_trust_store", lambda: ([], None))
    r = tls("good", ca=False)
    assert r.code == 3
    assert r.json()["error"]["kind"] == "config"
    assert "--ca-file" in r.json()["error"]["hint"]


def test_pem_output(tls):
    doc = tls("good", "--pem").json()
    assert all(c["pem"].startswith("-----BEGIN CERTIFICATE-----") for c in doc["chain"])
    text = tls("good", "--pem", json=False)
    assert text.out.count("BEGIN CERTIFICATE") == 2


def test_text_output(tls):
    r = tls("wrong_host", json=False)
    assert r.code == 1
    assert "chain as served (2 certificates)" in r.out
    assert "trusted: yes" in r.out and "does not match wrong-host.lab.test" in r.out
    assert r.out.rstrip().splitlines()[-1].startswith("unhealthy: hostname_mismatch")


@pytest.mark.parametrize(
    "args",
    [
        ["127.0.0.1:443", "--sni", "a.test", "--no-sni"],
        ["127.0.0.1:443", "--sni", "127.0.0.1"],
        ["127.0.0.1:443", "--starttls", "ftp"],
        ["127.0.0.1:443", "--ca-file", "/nonexistent.pem"],
        ["127.0.0.1:443", "--alpn", ",,"],
        ["127.0.0.1:0"],
        ["http://127.0.0.1/"],
        ["bad..name"],
    ],
)
def test_bad_input_exit_2(cli, args):
    r = cli("tls", *args)
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1


def test_ca_file_without_certificates_is_usage_error(cli, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    r = cli("tls", "127.0.0.1:443", "--ca-file", str(empty))
    assert r.code == 2 and "no PEM certificate" in r.err


def test_ctrl_c_keeps_what_was_measured(lab):
    # The silent port never answers the SYN; interrupt while netdiag waits for it.
    r, _ = interrupt("tls", lab.endpoints["tcp_silent"], "--timeout", "20", "--json", after_s=1.0)
    assert r.code == 130, r.err
    doc = r.json()
    assert doc["interrupted"] is True and doc["error"]["kind"] == "interrupted"
