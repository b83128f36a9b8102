"""`netdiag tls` verdicts against the lab (issue 11): ``trusted`` means "verifies now", the path
to a trust anchor is its own field, a lone leaf is an incomplete chain, a trusted root with a
broken chain gets the verifier's reason, and a certificate that expires soon is a warning.

Where openssl is installed, its verdict on the same chain (as served, taken from ``--pem``) is
checked to name the same fault."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_process

from netdiag.lab.pki import DAY, make_ca, make_leaf, pem
from netdiag.net.certs import WARN_DAYS, assess, verify_trust

OPENSSL = shutil.which("openssl")
requires_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


@pytest.fixture
def tls(cli, lab):
    """Run `netdiag tls` on a lab case, with its SNI name and (unless ``ca`` says otherwise)
    the lab root as the CA file; JSON unless ``json=False``."""

    def run(case, *extra, ca=None, json=True):
        args = ["tls", lab.endpoints[f"tls_{case}"], "--sni", lab.tls_names[f"tls_{case}"]]
        args += ["--ca-file", ca or lab.files["tls_ca_file"], *extra, "--timeout", "3"]
        if json:
            args.append("--json")
        return cli(*args)

    return run


def kinds(doc):
    return [p["kind"] for p in doc["problems"]]


# -- trusted: verifies now; path_to_trust_anchor: builds to the store at all ----------------


def test_good_chain_is_trusted_with_a_path(tls):
    doc = tls("good").json()
    assert doc["ok"] and (doc["trusted"], doc["path_to_trust_anchor"]) == (True, True)
    assert (doc["warnings"], doc["min_days"], doc["warn_days"]) == ([], None, WARN_DAYS)


@pytest.mark.parametrize(
    ("case", "kind", "because"),
    [
        ("expired", "cert_expired", "because a certificate has expired"),
        ("not_yet_valid", "cert_not_yet_valid", "because a certificate is not valid yet"),
    ],
)
def test_out_of_date_chain_is_not_trusted_but_has_a_path(tls, case, kind, because):
    r = tls(case)
    assert r.code == 1
    doc = r.json()
    assert doc["trusted"] is False and doc["path_to_trust_anchor"] is True
    assert kinds(doc) == [kind]  # the path is fine: expiry is the only problem
    text = tls(case, json=False)
    assert text.code == 1
    assert f"trusted: no, {because}" in text.out
    assert "path to trust anchor: yes" in text.out


def test_verify_trust_now_and_path(tmp_path):
    root = make_ca("verdict test root")
    inter = make_ca("verdict test intermediate", root, path_length=0)
    leaf = make_leaf(inter, "leaf.test", ["leaf.test"])
    chain = [leaf.cert, inter.cert]
    now = datetime.now(UTC)
    trust = verify_trust(chain, [root.cert], now)
    assert (trust.now, trust.path, trust.why) == (True, True, None)
    later = now + 200 * DAY  # the leaf (90 days) has expired, its path has not changed
    trust = verify_trust(chain, [root.cert], later)
    assert (trust.now, trust.path) == (False, True)
    v = assess(chain, [root.cert], "leaf.test", later, None)
    assert (v.trusted, v.path_to_trust_anchor, v.hostname_match) == (False, True, True)
    assert [p.kind for p in v.problems] == ["cert_expired"]
    other = make_ca("verdict test other root")
    trust = verify_trust(chain, [other.cert], later)
    assert (trust.now, trust.path) == (False, False)


# -- incomplete_chain: a lone leaf whose issuer is neither sent nor trusted -------------------


@pytest.mark.parametrize("case", ["no_intermediate", "no_intermediate_no_aia"])
def test_lone_leaf_is_an_incomplete_chain_with_or_without_aia(tls, case):
    r = tls(case)
    assert r.code == 1
    doc = r.json()
    assert kinds(doc) == ["incomplete_chain"] and len(doc["chain"]) == 1
    message = doc["error"]["message"]
    assert message.startswith(
        "the server sent 1 certificate; its issuer CN=netdiag lab intermediate CA,O=netdiag lab "
        "was not sent and is not in the trust store: the server is most likely missing its "
        "intermediate certificate"
    )
    assert (doc["trusted"], doc["path_to_trust_anchor"]) == (False, False)


def test_complete_chain_to_an_untrusted_root_stays_untrusted_issuer(tls, tmp_path):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(pem(make_ca("some other root").cert))
    # Sent up to the lab root (3 certificates), which this trust store does not hold.
    doc = tls("no_aki", ca=str(other)).json()
    assert kinds(doc) == ["untrusted_issuer"]
    assert "netdiag lab root CA, a root that is not trusted" in doc["error"]["message"]
    # Leaf and intermediate, the root not sent (as servers should): the issuer is untrusted.
    doc = tls("good", ca=str(other)).json()
    assert kinds(doc) == ["untrusted_issuer"]
    assert doc["error"]["message"] == (
        "the issuer CN=netdiag lab root CA,O=netdiag lab is not trusted"
    )


# -- chain_invalid: the root is trusted, the chain breaks a rule: the verifier's reason -------


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("inter_not_ca", "basicConstraints.cA must be asserted in a CA certificate"),
        ("no_aki", "authorityKeyIdentifier (2.5.29.35): Certificate is missing required extension"),
    ],
)
def test_trusted_root_with_a_broken_chain_gives_the_verifiers_reason(tls, case, reason):
    r = tls(case)
    assert r.code == 1
    doc = r.json()
    assert len(doc["chain"]) == 3 and doc["chain"][2]["self_signed"]  # sent up to the root
    assert kinds(doc) == ["chain_invalid"]
    message = doc["error"]["message"]
    assert "netdiag lab root CA, a trusted root, but does not verify" in message
    assert reason in message and "not trusted" not in message
    assert (doc["trusted"], doc["path_to_trust_anchor"]) == (False, False)


def _served_files(tls, case: str, directory: Path) -> tuple[Path, Path]:
    """The chain as the lab server sends it (from --pem): the leaf, and the rest."""
    chain = tls(case, "--pem").json()["chain"]
    leaf, rest = directory / "leaf.pem", directory / "untrusted.pem"
    leaf.write_text(chain[0]["pem"])
    rest.write_text("".join(c["pem"] for c in chain[1:]))
    return leaf, rest


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *args],
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )


@requires_openssl
def test_openssl_names_the_same_fault_for_an_intermediate_that_is_not_a_ca(tls, lab, tmp_path):
    ca = lab.files["tls_ca_file"]
    leaf, rest = _served_files(tls, "inter_not_ca", tmp_path)
    verify = _openssl("verify", "-CAfile", ca, "-untrusted", str(rest), str(leaf))
    assert verify.returncode != 0
    assert "error 79 at 1 depth lookup: invalid CA certificate" in verify.stdout + verify.stderr
    port = lab.endpoints["tls_inter_not_ca"].rsplit(":", 1)[1]
    name = lab.tls_names["tls_inter_not_ca"]
    s_client = _openssl(
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        name,
        "-CAfile",
        ca,
        "-verify_return_error",
    )
    assert s_client.returncode != 0
    assert "invalid CA certificate" in s_client.stdout + s_client.stderr
    assert "basicConstraints.cA" in tls("inter_not_ca").json()["error"]["message"]


@requires_openssl
def test_openssl_strict_names_the_same_fault_for_a_missing_aki(tls, lab, tmp_path):
    """netdiag's verifier holds certificates to RFC 5280 and the Baseline Requirements, as
    ``openssl verify -x509_strict`` does; openssl's default lets a missing AKI pass."""
    ca = lab.files["tls_ca_file"]
    leaf, rest = _served_files(tls, "no_aki", tmp_path)
    strict = _openssl("verify", "-x509_strict", "-CAfile", ca, "-untrusted", str(rest), str(leaf))
    assert strict.returncode != 0
    assert "Missing Authority Key Identifier" in strict.stdout + strict.stderr
    lenient = _openssl("verify", "-CAfile", ca, "-untrusted", str(rest), str(leaf))
    assert lenient.returncode == 0
    assert "authorityKeyIdentifier" in tls("no_aki").json()["error"]["message"]


@requires_openssl
def test_openssl_agrees_an_expired_chain_is_not_verified_now(tls, lab, tmp_path):
    ca = lab.files["tls_ca_file"]
    leaf, rest = _served_files(tls, "expired", tmp_path)
    now = _openssl("verify", "-CAfile", ca, "-untrusted", str(rest), str(leaf))
    assert now.returncode != 0 and "certificate has expired" in now.stdout + now.stderr
    # With the times left out (path_to_trust_anchor), openssl verifies it too.
    path = _openssl("verify", "-no_check_time", "-CAfile", ca, "-untrusted", str(rest), str(leaf))
    assert path.returncode == 0, path.stdout + path.stderr
    doc = tls("expired").json()
    assert (doc["trusted"], doc["path_to_trust_anchor"]) == (False, True)


# -- expiring_soon: a warning without --min-days, a problem with it ---------------------------


def test_expiring_soon_is_a_warning_without_min_days(tls):
    r = tls("expiring")
    assert r.code == 0
    doc = r.json()
    assert doc["ok"] and doc["error"] is None and doc["problems"] == []
    (warning,) = doc["warnings"]
    assert warning["kind"] == "expiring_soon"
    assert warning["message"].startswith("the leaf certificate expires on ")
    assert "in 5 days" in warning["message"]
    text = tls("expiring", json=False)
    assert text.code == 0
    lines = text.out.rstrip().splitlines()
    assert lines[-1] == "healthy"
    assert any(line.startswith("warning: expiring_soon: the leaf") for line in lines)


def test_expiring_soon_with_min_days_stays_a_problem(tls):
    r = tls("expiring", "--min-days", "14")
    assert r.code == 1
    doc = r.json()
    assert kinds(doc) == ["expiring_soon"] and doc["warnings"] == []
    assert doc["min_days"] == 14
    # --min-days 5 holds (5 days left): healthy, and still warned of within 14 days.
    doc = tls("expiring", "--min-days", "5").json()
    assert doc["ok"] and [w["kind"] for w in doc["warnings"]] == ["expiring_soon"]


@pytest.mark.parametrize("days", ["0", "5"])
def test_warn_days_sets_the_warning_threshold(tls, days):
    doc = tls("expiring", "--warn-days", days).json()
    assert doc["ok"] and doc["warnings"] == [] and doc["warn_days"] == int(days)
    doc = tls("expiring", "--warn-days", "30").json()
    assert [w["kind"] for w in doc["warnings"]] == ["expiring_soon"]


def test_expiring_intermediate_is_warned_of(tls):
    doc = tls("short_intermediate").json()
    assert doc["ok"]
    (warning,) = doc["warnings"]
    assert warning["message"].startswith("certificate 1 (netdiag lab short-lived intermediate")


def test_warning_is_yellow_on_a_terminal(lab):
    r = run_process(
        "tls",
        lab.endpoints["tls_expiring"],
        "--sni",
        lab.tls_names["tls_expiring"],
        "--ca-file",
        lab.files["tls_ca_file"],
        "--timeout",
        "3",
        env={"FORCE_COLOR": "1"},
    )
    assert r.code == 0, r.err
    line = next(x for x in r.out.splitlines() if "expiring_soon" in x)
    assert "\x1b[1;33mexpiring_soon\x1b[0m" in line  # bold yellow: a warning, not a failure
    days = next(x for x in r.out.splitlines() if "days left" in x and "valid" in x)
    assert "\x1b[33m5 days left" in days


# -- http reads the same verdict ---------------------------------------------------------------


def test_http_tls_summary_has_the_same_meaning(cli, lab):
    r = cli("http", lab.urls["https"] + "/", "--ca-file", lab.files["tls_ca_file"], "--json")
    assert r.code == 0, r.out
    tls = r.json()["hops"][0]["tls"]
    assert tls["trusted"] is True and tls["path_to_trust_anchor"] is True
