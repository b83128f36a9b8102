"""A private DNS hierarchy on loopback, served by netdiag's own authoritative test servers
(dnspython builds and parses every message).

Every server listens on UDP and TCP on its own 127.53.0.x address, all on one port
(``--port`` for netdiag, as ``-p`` for dig). The hierarchy, from the root down:

- ``.`` (root) at 127.53.0.1 delegates ``test.`` and ``alt.`` with glue.
- ``test.`` (127.53.0.2 and .3) delegates: ``example.test.`` with glue (two servers);
  ``glueless.test.`` to ``ns.provider.alt.``, a name outside ``test.``, so no glue can be given;
  ``lame.test.`` to one silent server and one that answers REFUSED; ``flaky.test.`` to one
  silent server and one good one; ``loop.test.`` to ``ns.loop.alt.``, whose zone is delegated
  back to ``ns.loop.test.`` (a delegation loop); ``hostile.test.`` to a server that answers
  garbage and one that answers with the wrong query ID; ``upward.test.`` to a server that
  refers every query back to the root; ``split.test.`` to two servers that disagree;
  ``flood.test.`` to a server that answers every UDP query with a flood of wrong-ID replies.
- ``alt.`` (127.53.0.5) delegates ``provider.alt.`` with glue and ``loop.alt.`` without.
- ``example.test.`` holds a CNAME into another zone (``www`` -> ``web.provider.alt.``), a CNAME
  chain into its delegated sub-zone ``sub.example.test.`` (127.53.0.8), a CNAME to a name that
  does not exist (``dangling``), a TXT set too big for UDP, MX, SRV, CAA, AAAA, and a reverse
  zone ``0.0.127.in-addr.arpa.`` for ``-x``.

``middlebox`` (127.53.0.22) is no name server of the hierarchy: it answers every query as a
DNS-intercepting middlebox does, NXDOMAIN (NODATA for AAAA) with RA, without AA or an SOA.
``--trace --root 127.53.0.22`` is a trace whose traffic to the root is intercepted.

Two flooding servers serve ``flood.test.`` (``www.flood.test.`` A 127.0.0.20): on UDP,
``flood_wrong_id`` (127.53.0.20) answers each query with a burst of replies carrying every ID
but the right one, up to :data:`FLOOD_MAX_PACKETS` packets or :data:`FLOOD_MAX_SECONDS`,
whichever comes first, and never the right answer; ``flood_then_answer`` (127.53.0.21) sends
:data:`FLOOD_BURST_PACKETS` wrong-ID replies, then the right answer (up to four times, until
the client is gone). A flood stops as soon as the client's port is closed (ICMP port
unreachable), and a server floods at most :data:`MAX_FLOODS` clients at a time. Over TCP both
answer once (wrong ID / right answer).

Answer data uses loopback addresses only, so nothing that reads it leaves the machine.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

PREFIX = "127.53.0."
MAX_TCP_CLIENTS = 64

FLOOD_MAX_PACKETS = 1_000_000
"""``flood_wrong_id``: at most this many wrong-ID replies to one query..."""
FLOOD_MAX_SECONDS = 5.0
"""...and for at most this long (at ~300k packets/s, the time bound usually comes first)."""
FLOOD_BURST_PACKETS = 20_000
"""``flood_then_answer``: this many wrong-ID replies (also within FLOOD_MAX_SECONDS), then
the right answer."""
MAX_FLOODS = 4
"""Clients one server floods at a time; queries beyond are ignored."""
FLOODS = ("flood_wrong_id", "flood_then_answer")

SOA = "@ 300 IN SOA {ns} hostmaster.{origin} 1 3600 600 86400 60"


def _zone(origin: str, ns: list[str], body: str) -> dns.zone.Zone:
    lines = [SOA.format(ns=ns[0], origin=origin if origin != "." else "")]
    lines += [f"@ 300 IN NS {n}" for n in ns]
    text = "\n".join(lines) + "\n" + body
    return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)


def _ip(n: int) -> str:
    return f"{PREFIX}{n}"


BIG_TXT = "\n".join(
    f'big 300 IN TXT "record {i:02d}: padding to make this answer too large for one UDP '
    f'datagram of 1232 bytes, so the server sets TC and the client retries over TCP"'
    for i in range(16)
)

ZONES: dict[str, tuple[list[int], str, list[str], str]] = {
    # name: (server address numbers, origin, NS names, body)
    "root": (
        [1],
        ".",
        ["a.root.test."],
        f"""
a.root.test. 300 IN A {_ip(1)}
test. 300 IN NS ns1.nic.test.
test. 300 IN NS ns2.nic.test.
ns1.nic.test. 300 IN A {_ip(2)}
ns2.nic.test. 300 IN A {_ip(3)}
alt. 300 IN NS ns.nic.alt.
ns.nic.alt. 300 IN A {_ip(5)}
""",
    ),
    "test": (
        [2, 3],
        "test.",
        ["ns1.nic.test.", "ns2.nic.test."],
        f"""
ns1.nic 300 IN A {_ip(2)}
ns2.nic 300 IN A {_ip(3)}
example 300 IN NS ns1.example.test.
example 300 IN NS ns2.example.test.
ns1.example 300 IN A {_ip(4)}
ns2.example 300 IN A {_ip(14)}
glueless 300 IN NS ns.provider.alt.
lame 300 IN NS ns1.lame.test.
lame 300 IN NS ns2.lame.test.
ns1.lame 300 IN A {_ip(9)}
ns2.lame 300 IN A {_ip(10)}
flaky 300 IN NS ns1.flaky.test.
flaky 300 IN NS ns2.flaky.test.
ns1.flaky 300 IN A {_ip(9)}
ns2.flaky 300 IN A {_ip(15)}
loop 300 IN NS ns.loop.alt.
hostile 300 IN NS ns1.hostile.test.
hostile 300 IN NS ns2.hostile.test.
ns1.hostile 300 IN A {_ip(11)}
ns2.hostile 300 IN A {_ip(12)}
upward 300 IN NS ns.upward.test.
ns.upward 300 IN A {_ip(13)}
split 300 IN NS ns1.split.test.
split 300 IN NS ns2.split.test.
ns1.split 300 IN A {_ip(17)}
ns2.split 300 IN A {_ip(18)}
flood 300 IN NS ns.flood.test.
ns.flood 300 IN A {_ip(20)}
""",
    ),
    "alt": (
        [5],
        "alt.",
        ["ns.nic.alt."],
        f"""
ns.nic 300 IN A {_ip(5)}
provider 300 IN NS ns1.provider.alt.
ns1.provider 300 IN A {_ip(6)}
loop 300 IN NS ns.loop.test.
""",
    ),
    "provider": (
        [6],
        "provider.alt.",
        ["ns1.provider.alt."],
        f"""
ns1 300 IN A {_ip(6)}
ns 300 IN A {_ip(7)}
web 300 IN A 127.0.0.81
web 300 IN AAAA ::1
""",
    ),
    "glueless": (
        [7],
        "glueless.test.",
        ["ns.provider.alt."],
        """
www 300 IN A 127.0.0.82
""",
    ),
    "example": (
        [4, 14],
        "example.test.",
        ["ns1.example.test.", "ns2.example.test."],
        f"""
ns1 300 IN A {_ip(4)}
ns2 300 IN A {_ip(14)}
host 300 IN A 127.0.0.10
host 300 IN AAAA ::1
www 300 IN CNAME web.provider.alt.
alias 300 IN CNAME host.example.test.
chain 300 IN CNAME c1.example.test.
c1 300 IN CNAME c2.sub.example.test.
mail 300 IN MX 10 host.example.test.
dangling 300 IN CNAME gone.example.test.
_sip._tcp 300 IN SRV 10 5 5060 host.example.test.
@ 300 IN CAA 0 issue "ca.test"
@ 300 IN TXT "v=lab1"
sub 300 IN NS ns.sub.example.test.
ns.sub 300 IN A {_ip(8)}
{BIG_TXT}
""",
    ),
    "sub": (
        [8],
        "sub.example.test.",
        ["ns.sub.example.test."],
        f"""
ns 300 IN A {_ip(8)}
c2 300 IN A 127.0.0.12
""",
    ),
    "reverse": (
        [4, 14],
        "0.0.127.in-addr.arpa.",
        ["ns1.example.test."],
        """
10 300 IN PTR host.example.test.
""",
    ),
    "flaky": (
        [15],
        "flaky.test.",
        ["ns2.flaky.test."],
        """
www 300 IN A 127.0.0.15
""",
    ),
    "split-1": ([17], "split.test.", ["ns1.split.test."], "www 300 IN A 127.0.0.17\n"),
    "split-2": ([18], "split.test.", ["ns2.split.test."], "www 300 IN A 127.0.0.18\n"),
    "flood": (
        [20, 21],
        "flood.test.",
        ["ns.flood.test."],
        f"ns 300 IN A {_ip(20)}\nwww 300 IN A 127.0.0.20\n",
    ),
}

HOSTILE: dict[int, str] = {
    9: "silent",
    10: "refused",
    11: "garbage",
    19: "wrong_question",
    12: "wrong_id",
    13: "upward",
    16: "servfail",
    20: "flood_wrong_id",
    21: "flood_then_answer",
    22: "middlebox",
}
"""Servers that misbehave; those that also have zones (the flooders) answer from them."""


def authoritative_answer(
    zones: list[dns.zone.Zone], query: dns.message.Message
) -> dns.message.Message:
    """What an authoritative server with ``zones`` answers: an answer (following CNAMEs inside
    the zone), a referral with in-zone glue, NODATA or NXDOMAIN with the SOA (for the last
    name of a CNAME chain too), or REFUSED. A CNAME chain that leaves the zone stops there
    (the CNAMEs only); one that enters a zone this one delegates ends with the referral."""
    response = dns.message.make_response(query)
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    candidates = [z for z in zones if z.origin is not None and qname.is_subdomain(z.origin)]
    if not candidates:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    zone = max(candidates, key=lambda z: len(z.origin or dns.name.empty))
    origin = zone.origin
    assert origin is not None
    soa = zone.get_rrset(origin, dns.rdatatype.SOA)
    assert soa is not None, f"the lab's zone {origin} has no SOA"

    def referral_at(name: dns.name.Name) -> dns.name.Name | None:
        for depth in range(len(origin) + 1, len(name) + 1):
            cut = name.split(depth)[1]
            if zone.get_rdataset(cut, dns.rdatatype.NS) is not None:
                return cut
        return None

    cut = referral_at(qname)
    if cut is not None and not (cut == qname and qtype == dns.rdatatype.DS):
        _add_referral(response, zone, cut)
        return response

    response.flags |= dns.flags.AA
    name = qname
    for _ in range(8):
        node = zone.get_node(name)
        if node is None:
            # NXDOMAIN speaks of the last name of the chain (RFC 6604), with the SOA
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(soa)
            return response
        rrset = zone.get_rrset(name, qtype)
        if rrset is not None:
            response.answer.append(rrset)
            return response
        cname = zone.get_rrset(name, dns.rdatatype.CNAME)
        if cname is None:
            response.authority.append(soa)  # NODATA, after a CNAME too (RFC 2308 2.2)
            return response
        response.answer.append(cname)
        name = cname[0].target
        if not name.is_subdomain(origin):
            return response  # the chain leaves this server's data: the answer stops here
        child = referral_at(name)
        if child is not None:  # into a zone this one delegates: the CNAMEs and the referral
            _add_referral(response, zone, child)
            return response
    return response


def _add_referral(response: dns.message.Message, zone: dns.zone.Zone, cut: dns.name.Name) -> None:
    """The NS set of ``cut`` in the authority section, with in-zone glue."""
    ns = zone.get_rrset(cut, dns.rdatatype.NS)
    assert ns is not None and zone.origin is not None
    response.authority.append(ns)
    for rd in ns:
        if rd.target.is_subdomain(zone.origin):
            for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                glue = zone.get_rrset(rd.target, t)
                if glue is not None:
                    response.additional.append(glue)


def _respond(behaviour: str, zones: list[dns.zone.Zone], data: bytes, tcp: bool) -> bytes | None:
    """The reply bytes for one query, or None to stay silent."""
    if behaviour == "silent":
        return None
    if behaviour == "garbage":
        return b"\x13\x37this is not a DNS message\xff\xfe"
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    if behaviour in ("refused", "servfail"):
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.REFUSED if behaviour == "refused" else dns.rcode.SERVFAIL)
    elif behaviour in ("wrong_id", "flood_wrong_id"):
        response = authoritative_answer(zones, query)
        response.id = (query.id + 1) % 65536
    elif behaviour == "wrong_question":
        other = dns.message.make_query("other.example.test.", "A", id=query.id)
        response = dns.message.make_response(other)
    elif behaviour == "middlebox":
        # What a DNS-intercepting middlebox (or a filtering resolver) answers, whoever the
        # query was sent to: NXDOMAIN, or an empty NOERROR for AAAA (as "AAAA filtering"
        # does), with RA set and neither the AA flag nor an SOA: a negative answer that
        # nothing vouches for.
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        question = query.question[0] if query.question else None
        if question is None or question.rdtype != dns.rdatatype.AAAA:
            response.set_rcode(dns.rcode.NXDOMAIN)
    elif behaviour == "upward":
        response = dns.message.make_response(query)
        root = dns.name.root
        response.authority.append(dns.rrset.from_text(root, 300, "IN", "NS", "a.root.test."))
        response.additional.append(dns.rrset.from_text("a.root.test.", 300, "IN", "A", _ip(1)))
    else:
        response = authoritative_answer(zones, query)
    limit = 65535 if tcp else (query.payload if query.edns >= 0 else 512)
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
        return truncated.to_wire()


class DnsServer:
    """One lab name server on UDP and TCP at (address, port), with a behaviour:
    ``auth`` (answers from its zones), ``silent``, ``refused``, ``servfail``, ``garbage``,
    ``wrong_id``, ``wrong_question`` (answers another name), ``upward`` (refers everything
    to the root), ``middlebox`` (NXDOMAIN for everything, NODATA for AAAA, without AA or an
    SOA, as a DNS-intercepting middlebox), or one of :data:`FLOODS` (see the module's
    description)."""

    def __init__(self, address: str, port: int, behaviour: str, zones: list[dns.zone.Zone]) -> None:
        self.address, self.behaviour, self.zones = address, behaviour, zones
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if behaviour in FLOODS:
                # Each flood is sent from its own socket on this address and port, connected to
                # the client, so that the client closing its port stops the flood at once.
                self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self.udp.bind((address, port))
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((address, self.udp.getsockname()[1]))
            self.tcp.listen(64)
        except OSError:
            self.udp.close()
            self.tcp.close()
            raise
        self.port = self.udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"lab-dns {address}", daemon=True)
        self._stopping = threading.Event()
        self._flood_slots = threading.BoundedSemaphore(MAX_FLOODS)
        self._floods: set[threading.Thread] = set()
        self.floods_sent = 0
        """Wrong-ID replies sent by the last flood that ended (for tests and benchmarks)."""

    def start(self) -> DnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for t in list(self._floods):
            t.join(timeout=5)
        for s in (self.udp, self.tcp, self._wake_r, self._wake_w):
            s.close()

    def _start_flood(self, data: bytes, peer: tuple[str, int]) -> None:
        """Flood ``peer`` from a thread of its own, if fewer than MAX_FLOODS are running."""
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if not self._flood_slots.acquire(blocking=False):
            return
        answer = authoritative_answer(self.zones, query).to_wire(max_size=512)
        then_answer = self.behaviour == "flood_then_answer"
        limit = FLOOD_BURST_PACKETS if then_answer else FLOOD_MAX_PACKETS
        t = threading.Thread(
            target=self._flood,
            args=(peer, query.id, answer, limit, then_answer),
            name=f"lab-dns-flood {self.address}",
            daemon=True,
        )
        self._floods.add(t)
        try:
            t.start()
        except RuntimeError:
            self._floods.discard(t)
            self._flood_slots.release()

    def _flood(
        self, peer: tuple[str, int], qid: int, answer: bytes, limit: int, then_answer: bool
    ) -> None:
        """Send ``answer`` with every ID but ``qid``, ``limit`` times at most, for
        FLOOD_MAX_SECONDS at most, stopping when the client is gone; then (maybe) the answer."""
        sent = 0
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((self.address, self.port))
                sock.connect(peer)
                packet = bytearray(answer)
                end = time.monotonic() + FLOOD_MAX_SECONDS
                for i in range(limit):
                    if i % 1024 == 0 and (time.monotonic() > end or self._stopping.is_set()):
                        break
                    struct.pack_into("!H", packet, 0, (qid + 1 + i % 65535) % 65536)
                    try:
                        sock.send(packet)
                    except ConnectionRefusedError:
                        return  # ICMP port unreachable: the client closed its port; stop
                    except OSError:
                        continue  # ENOBUFS and the like: this packet is lost, go on
                    sent += 1
                # The answer, after a pause for the client to drain its receive queue (a
                # datagram that finds it full is dropped), and again a few times, until the
                # client is gone: a busy machine may take longer to drain.
                for pause in (0.05, 0.1, 0.2, 0.4) if then_answer else ():
                    if self._stopping.wait(pause):
                        break
                    try:
                        sock.send(answer)
                    except OSError:
                        break  # ECONNREFUSED: the client has its answer and is gone
        except OSError:
            return
        finally:
            self.floods_sent = sent
            self._floods.discard(threading.current_thread())
            self._flood_slots.release()

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "listen")
        buffers: dict[socket.socket, bytearray] = {}
        try:
            while True:
                for key, _ in sel.select(timeout=1.0):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if key.data == "wake":
                        return
                    if key.data == "udp":
                        with contextlib.suppress(OSError):
                            data, peer = sock.recvfrom(65535)
                            if self.behaviour in FLOODS:
                                self._start_flood(data, peer)
                                continue
                            reply = _respond(self.behaviour, self.zones, data, tcp=False)
                            if reply is not None:
                                sock.sendto(reply, peer)
                    elif key.data == "listen":
                        with contextlib.suppress(OSError):
                            conn, _ = sock.accept()
                            if len(buffers) >= MAX_TCP_CLIENTS:
                                conn.close()
                                continue
                            conn.setblocking(False)
                            buffers[conn] = bytearray()
                            sel.register(conn, selectors.EVENT_READ, "conn")
                    else:
                        self._tcp_read(sel, sock, buffers)
        finally:
            for c in buffers:
                c.close()
            sel.close()

    def _tcp_read(
        self,
        sel: selectors.BaseSelector,
        conn: socket.socket,
        buffers: dict[socket.socket, bytearray],
    ) -> None:
        try:
            chunk = conn.recv(65537)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        buf = buffers[conn]
        buf += chunk
        while len(buf) >= 2:
            (length,) = struct.unpack("!H", buf[:2])
            if len(buf) < 2 + length:
                break
            data = bytes(buf[2 : 2 + length])
            del buf[: 2 + length]
            reply = _respond(self.behaviour, self.zones, data, tcp=True)
            if reply is not None:
                with contextlib.suppress(OSError):
                    conn.setblocking(True)
                    conn.settimeout(2)
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                    conn.setblocking(False)
        if not chunk or len(buf) > 65537:
            sel.unregister(conn)
            del buffers[conn]
            conn.close()


@dataclass
class DnsLab:
    """All the hierarchy's servers, on one port."""

    port: int = 0
    servers: dict[str, DnsServer] = field(default_factory=dict)

    def start(self) -> DnsLab:
        zones = {key: _zone(origin, ns, body) for key, (_, origin, ns, body) in ZONES.items()}
        by_address: dict[int, list[dns.zone.Zone]] = {}
        for key, (numbers, *_rest) in ZONES.items():
            for n in numbers:
                by_address.setdefault(n, []).append(zones[key])
        plan = [
            (n, HOSTILE.get(n, "auth"), by_address.get(n, []))
            for n in sorted(set(by_address) | set(HOSTILE))
        ]
        for _attempt in range(20):
            try:
                self._bind_all(plan)
                break
            except OSError:
                self._close_all()
        else:
            raise OSError("could not find one free port on every 127.53.0.x address")
        for s in self.servers.values():
            s.start()
        return self

    def _bind_all(self, plan: list[tuple[int, str, list[dns.zone.Zone]]]) -> None:
        port = self.port if self.port else 0
        for n, behaviour, zones in plan:
            server = DnsServer(_ip(n), port, behaviour, zones)
            port = server.port
            self.servers[server.address] = server
        self.port = port

    def _close_all(self) -> None:
        for s in self.servers.values():
            for sock in (s.udp, s.tcp, s._wake_r, s._wake_w):
                sock.close()
        self.servers.clear()
        self.port = 0

    @property
    def root(self) -> str:
        return _ip(1)

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()
        self.servers.clear()
