"""Hostile certificates: extension DER that does not parse, names and dates that cannot be
read, and random or mutated DER. Each must be a reported problem on that certificate, in
`netdiag tls` and `netdiag http`, with the rest of the chain still shown: never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_process
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdiag.lab.pki import make_ca, make_leaf, pem
from netdiag.net.certs import UNREADABLE, Served, describe, judge, problems, served_chain

MALFORMED = [("bad_san", "subjectAltName"), ("bad_basic_constraints", "basicConstraints")]


def _doc(r) -> dict:
    assert "Traceback" not in r.err, r.err
    return r.json()


@pytest.mark.parametrize(("case", "extension"), MALFORMED)
def test_tls_reports_malformed_extension(lab, case, extension):
    r = run_process(
        "tls",
        lab.endpoints[f"tls_{case}"],
        "--sni",
        lab.tls_names[f"tls_{case}"],
        "--ca-file",
        lab.files["tls_ca_file"],
        "--timeout",
        "3",
        "--json",
    )
    doc = _doc(r)
    assert r.code == 1, r.out
    assert doc["ok"] is False and doc["error"]["kind"] == "malformed_extension"
    first = doc["problems"][0]
    assert first["kind"] == "malformed_extension"
    assert "the leaf certificate" in first["message"] and extension in first["message"]
    assert doc["trusted"] is False
    # The rest of the chain is still shown, the leaf as far as it can be read.
    leaf, inter = doc["chain"]
    assert f"CN={lab.tls_names[f'tls_{case}']}" in leaf["subject"]
    assert "CN=netdiag lab intermediate CA" in inter["subject"] and inter["is_ca"] is True
    assert leaf["key_type"] == "EC" and leaf["not_after"].endswith("Z")
    # The issuer is the lab's, and trusted: the chain fails for the unreadable certificate,
    # which must not be blamed on the issuer.
    kinds = [p["kind"] for p in doc["problems"]]
    assert "untrusted_issuer" not in kinds


@pytest.mark.parametrize(("case", "extension"), MALFORMED)
def test_tls_text_view_reports_it(lab, case, extension):
    r = run_process(
        "tls",
        lab.endpoints[f"tls_{case}"],
        "--sni",
        lab.tls_names[f"tls_{case}"],
        "--ca-file",
        lab.files["tls_ca_file"],
        "--timeout",
        "3",
    )
    assert r.code == 1 and "Traceback" not in r.err, r.err
    assert f"malformed {extension} extension" in r.out + r.err


def test_bad_san_is_the_hostname_problem_too(lab):
    r = run_process(
        "tls",
        lab.endpoints["tls_bad_san"],
        "--sni",
        lab.tls_names["tls_bad_san"],
        "--ca-file",
        lab.files["tls_ca_file"],
        "--json",
    )
    doc = _doc(r)
    assert doc["hostname_match"] is False and doc["chain"][0]["san_dns"] == []
    kinds = [p["kind"] for p in doc["problems"]]
    assert kinds[0] == "malformed_extension" and "hostname_mismatch" in kinds
    mismatch = next(p for p in doc["problems"] if p["kind"] == "hostname_mismatch")
    assert "subjectAltName that cannot be read" in mismatch["message"]


def test_http_reports_malformed_extension(lab):
    url = lab.urls["https_bad_san"] + "/"
    r = run_process("http", url, "--ca-file", lab.files["tls_ca_file"], "--json", "--timeout", "3")
    doc = _doc(r)
    assert r.code == 1, r.out
    assert doc["error"]["kind"] == "tls" and "malformed_extension" in doc["error"]["message"]
    hop = doc["hops"][0]
    assert hop["status"] is None
    assert hop["tls"]["problems"][0]["kind"] == "malformed_extension"
    assert "subjectAltName" in hop["tls"]["problems"][0]["message"]
    assert "CN=bad-san.lab.test" in hop["tls"]["subject"]

    r = run_process("http", url, "--ca-file", lab.files["tls_ca_file"], "--timeout", "3")
    assert r.code == 1 and "Traceback" not in r.err, r.err

    r = run_process("http", url, "--insecure", "--json", "--timeout", "3")
    doc = _doc(r)
    assert r.code == 0 and doc["hops"][0]["status"] == 200


def test_escape_case_exists(lab):
    """The lab serves a good chain whose leaf subject holds terminal escape sequences (the
    views' escaping is tested where it is done); by tls and by https."""
    r = run_process(
        "tls",
        lab.endpoints["tls_escape"],
        "--sni",
        lab.tls_names["tls_escape"],
        "--ca-file",
        lab.files["tls_ca_file"],
        "--json",
    )
    doc = _doc(r)
    assert r.code == 0 and "\x1b[2J" in doc["chain"][0]["subject"]
    r = run_process(
        "http", lab.urls["https_escape"] + "/", "--ca-file", lab.files["tls_ca_file"], "--json"
    )
    doc = _doc(r)
    assert r.code == 0 and "\x1b]0" in doc["hops"][0]["tls"]["subject"]


# -- certificates that the lab's OpenSSL would not serve, judged directly ----------------------

ROOT = make_ca("hostile test root")
LEAF = make_leaf(ROOT, "leaf.test", ["leaf.test"])
LEAF_DER = LEAF.cert.public_bytes(serialization.Encoding.DER)
ROOT_DER = ROOT.cert.public_bytes(serialization.Encoding.DER)
NOW = datetime.now(UTC)


def test_unparsable_certificate_is_a_problem_and_the_rest_is_shown():
    i = LEAF_DER.index(b"\x17\x0d")  # notBefore, a UTCTime: make its month 13
    bad_date = LEAF_DER[: i + 2] + b"991399" + LEAF_DER[i + 8 :]
    v = judge([bad_date, ROOT_DER], "leaf.test")
    kinds = [p.kind for p in v.problems]
    assert kinds[0] == "bad_certificate" and "hostname_mismatch" in kinds
    leaf, root = v.chain
    assert leaf.subject == UNREADABLE and leaf.not_after == UNREADABLE and leaf.sha256
    assert "hostile test root" in root.subject
    assert v.earliest_expiry is not None and v.earliest_expiry.position == 1


def test_unreadable_subject_name():
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "AAAAQQQQ", _type=_ASN1Type.UTF8String)]
    )
    cert = make_leaf(ROOT, "x", ["leaf.test"], subject=name).cert
    der = cert.public_bytes(serialization.Encoding.DER).replace(b"AAAA", b"\xff\xfe\xfd\xfc")
    _, _, found = problems([der, ROOT_DER], [ROOT.cert], "leaf.test", NOW, None)
    assert found[0].kind == "bad_certificate" and "unreadable subject" in found[0].message
    assert describe(Served(der), 0, NOW).subject == UNREADABLE


def test_signature_algorithm_without_a_name_is_shown_dotted():
    ecdsa_sha256 = bytes.fromhex("06082a8648ce3d040302")
    der = LEAF_DER.replace(ecdsa_sha256, ecdsa_sha256[:-1] + b"\x09")
    info = describe(Served(der), 0, NOW)
    assert info.signature_algorithm == "1.2.840.10045.4.3.9"


def test_good_certificate_has_no_faults():
    s = Served(LEAF_DER)
    assert s.faults == [] and s.sans() == (["leaf.test"], [])
    assert problems([LEAF.cert, ROOT.cert], [ROOT.cert], "leaf.test", NOW, None)[:2] == (
        True,
        True,
    )


# -- property: any bytes, any mutation of a real certificate: a clean verdict ----------------


@st.composite
def mutated_der(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([LEAF_DER, ROOT_DER])))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "root.pem"
    path.write_bytes(pem(ROOT.cert))
    return path


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chain=st.lists(
        st.one_of(mutated_der(), st.binary(max_size=600), st.just(ROOT_DER)),
        min_size=1,
        max_size=3,
    ),
    name=st.sampled_from(["leaf.test", "127.0.0.1", "other.test"]),
)
def test_any_der_gives_a_clean_verdict(ca_file: Path, chain: list[bytes], name: str) -> None:
    served = served_chain(chain)
    for s in served:
        assert all(kind in {"bad_certificate", "malformed_extension"} for kind, _ in s.faults)
    v = judge(chain, name, ca_file=ca_file, min_days=30, with_pem=True)
    assert len(v.chain) == len(chain)
    found = v.problems
    assert isinstance(found, tuple)
    assert all(p.kind and p.message for p in found)
    if any(s.cert is None or s.faults for s in served):
        assert found  # what cannot be read is always reported...
    if served and (served[0].cert is None or served[0].faults):
        assert v.trusted is False  # ...and a leaf that cannot be read is never trusted


def test_a_served_root_that_cannot_be_read_is_reported_and_the_verdict_is_the_verifiers(
    ca_file: Path,
) -> None:
    # Found by hypothesis: the served copy of the trusted root with its key algorithm OID
    # broken. A client verifies with its own copy of the root, so the chain is trusted; the
    # broken copy is still reported, and makes the report unhealthy.
    at = ROOT_DER.index(bytes.fromhex("06072a8648ce3d0201")) + 2  # id-ecPublicKey's content
    bad_root = ROOT_DER[:at] + b"\x00" + ROOT_DER[at + 1 :]
    v = judge([LEAF_DER, bad_root], "leaf.test", ca_file=ca_file, min_days=None, with_pem=False)
    assert v.trusted is True
    bad = [p for p in v.problems if p.kind == "bad_certificate"]
    assert bad and "certificate 1" in bad[0].message and "public key" in bad[0].message
    # The leaf itself broken the same way: never trusted (its signature no longer verifies).
    at = LEAF_DER.index(bytes.fromhex("06072a8648ce3d0201")) + 2
    bad_leaf = LEAF_DER[:at] + b"\x00" + LEAF_DER[at + 1 :]
    v = judge([bad_leaf, ROOT_DER], "leaf.test", ca_file=ca_file, min_days=None, with_pem=False)
    assert v.trusted is False and any(p.kind == "bad_certificate" for p in v.problems)
