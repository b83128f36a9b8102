"""`netdiag dns` against hostile peers: floods of wrong-ID replies, a trace stopped by its
total time bound, root hints that never end, and random bytes as DNS replies. Real servers
on loopback (the lab's 127.53.0.x hierarchy, or sockets made here), never a mock, never the
system resolver."""

from __future__ import annotations

import time

import pytest
from conftest import Outcome, run_process


@pytest.fixture(scope="module")
def dnslab(lab):
    if "dns_root" not in lab.endpoints:
        pytest.skip("the DNS lab needs 127.53.0.x on loopback (Linux)")
    root, port = lab.endpoints["dns_root"].rsplit(":", 1)
    return {
        "port": port,
        "root": root,
        **{k[4:]: v.rsplit(":", 1)[0] for k, v in lab.endpoints.items() if k.startswith("dns_")},
    }


def timed(*args: str) -> tuple[Outcome, float]:
    """Run ``netdiag ARGS`` as a real process; its outcome and wall time in seconds."""
    start = time.monotonic()
    r = run_process(*args, timeout=60)
    return r, time.monotonic() - start


# -- a flood of wrong-ID replies -------------------------------------------------------------


@pytest.mark.parametrize("retries", ["0", "1", "3"])
def test_flood_is_counted_not_kept_and_the_deadline_holds(dnslab, retries):
    r, wall = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_wrong_id"],
        "--port",
        dnslab["port"],
        "--timeout",
        "1",
        "--retries",
        retries,
        "--json",
    )
    assert r.code == 1, r.err
    assert "Traceback" not in r.err
    assert wall < 1 + 1.5  # an answered (if rejected) query is not retried
    doc = r.json()
    assert doc["error"]["kind"] == "bad_response"
    [q] = doc["results"]
    assert q["attempts"] == 1
    assert len(q["rejected"]) == 10
    assert all("wrong ID" in x for x in q["rejected"])
    assert q["rejected_count"] > 1000
    assert f"rejected {q['rejected_count']:,} responses" in q["error"]["message"]
    assert len(r.out) < 10_000


def test_flood_text_shows_the_first_ten_and_a_count(dnslab):
    r, wall = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_wrong_id"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.5",
    )
    assert r.code == 1 and wall < 0.5 + 1.5
    shown = [line for line in r.out.splitlines() if line.strip().startswith("rejected a response")]
    assert len(shown) == 10
    assert "… and " in r.out and " more rejected" in r.out
    assert len(r.out) < 10_000


def test_answer_after_a_flood_is_still_found(dnslab):
    r, wall = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_then_answer"],
        "--port",
        dnslab["port"],
        "--timeout",
        "3",
        "--json",
    )
    assert r.code == 0, r.out
    [q] = r.json()["results"]
    assert [a["data"] for a in q["answer"]] == ["127.0.0.20"]
    assert q["rejected_count"] > 100 and len(q["rejected"]) == 10
    assert wall < 3 + 1.5


def test_flooding_server_answers_once_over_tcp(dnslab):
    r, _ = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_then_answer"],
        "--port",
        dnslab["port"],
        "--tcp",
        "--json",
    )
    assert r.code == 0
    q = r.json()["results"][0]
    assert q["transport"] == "tcp" and q["rejected_count"] == 0
