#!/usr/bin/python3
"""forward_checks.py: forwarding checks of `zt dns serve` for tests/integration/dns-forward.sh.

    forward_checks.py CHECK --port PORT [--key value ...]

Upstreams are upstream.py instances whose --log files the checks read (names are made unique
per check, so several checks can share one upstream), and for the spoofing check the fake
upstream "spoofer" (run in the background) that sends forged replies before the real one.
"""
import json
import os
import select
import socket
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from dnsclient import (Fail, addresses, describe, expect, main, query, read_log, tcp, ttls, udp,
                       wait_for)


def port_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = f.read().split()
    return int(lo), int(hi)


def bins(values, lo, hi, n):
    """How many of values fall in each of n equal slices of [lo, hi]."""
    counts = [0] * n
    for v in values:
        counts[min(n - 1, (v - lo) * n // (hi - lo + 1))] += 1
    return counts


def ports_ids(port, log, count="200"):
    """count distinct forwarded queries: the upstream sees (nearly) as many distinct source
    ports, spread over the whole ephemeral range, and IDs that are distinct and not sequential
    (RFC 5452 section 9.2; CVE-2020-25684)."""
    p, n = int(port), int(count)
    tag = "%x" % int(time.time() * 1000)
    names = ["q%d-%s.ports.test" % (i, tag) for i in range(n)]
    for i, name in enumerate(names):
        r = udp(p, query(name, qid=i))
        expect(r is not None and r.rcode() == dns.rcode.NXDOMAIN, "NXDOMAIN for %s" % name, r)
    entries = [e for e in read_log(log) if e["name"].endswith("-%s.ports.test." % tag)]
    seen = sorted({e["name"] for e in entries})
    expect(len(seen) == n, "the upstream saw all %d names, saw %d" % (n, len(seen)))
    expect(len(entries) == n, "each name forwarded once, got %d queries" % len(entries))
    sports = [e["sport"] for e in entries]
    ids = [e["id"] for e in entries]
    lo, hi = port_range()
    nports = len(set(sports))
    print("  %d queries: %d distinct source ports (%d..%d of %d..%d), %d distinct IDs" % (
        n, nports, min(sports), max(sports), lo, hi, len(set(ids))))
    expect(nports >= n * 95 // 100, "at least %d distinct source ports, got %d" % (
        n * 95 // 100, nports))
    expect(all(lo <= s <= hi for s in sports), "source ports inside the ephemeral range "
           "%d-%d: %s" % (lo, hi, sorted(s for s in sports if not lo <= s <= hi)[:10]))
    pb = bins(sports, lo, hi, 8)
    expect(min(pb) >= 5, "source ports spread over the whole range (per eighth: %s)" % pb)
    expect(len(set(ids)) >= n * 95 // 100, "at least %d distinct IDs, got %d" % (
        n * 95 // 100, len(set(ids))))
    steps = sum(1 for a, b in zip(ids, ids[1:]) if abs(b - a) <= 1)
    expect(steps <= 3, "IDs are not sequential: %d consecutive pairs in %s" % (steps, ids[:20]))
    idb = bins(ids, 0, 65535, 8)
    expect(min(idb) >= 5, "IDs spread over 16 bits (per eighth: %s)" % idb)
    client_ids = sum(1 for e in entries if e["id"] == int(e["name"][1:].split("-")[0]))
    expect(client_ids <= 3, "the upstream does not see the clients' IDs (%d equal)" % client_ids)


def merge(port, log, name, clients="10"):
    """Identical queries from several clients at once: one upstream query, and every client
    gets the answer with its own ID (CVE-2020-25686)."""
    p, n = int(port), int(clients)
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    try:
        for i, s in enumerate(socks):
            s.sendto(query(name, qid=0x1000 + i * 77).to_wire(), ("127.0.0.1", p))
        for i, s in enumerate(socks):
            s.settimeout(15)
            try:
                data = s.recv(65535)
            except socket.timeout:
                raise Fail("client %d got no answer" % i)
            r = dns.message.from_wire(data)
            expect(r.id == 0x1000 + i * 77, "client %d gets its own ID %d" % (
                i, 0x1000 + i * 77), r)
            expect(addresses(r) == ["192.0.2.99"], "client %d gets the answer" % i, r)
    finally:
        for s in socks:
            s.close()
    got = read_log(log, name)
    expect(len(got) == 1, "the upstream saw %s once, saw it %d times" % (name, len(got)))


SPOOF = "6.6.6.%d"
REAL = "192.0.2.53"


def spoofer(portfile, log):
    """A fake upstream (run in the background): on 127.0.0.1 at a port it writes to portfile,
    it answers each query with forged replies (from another port, from 127.0.0.2, with a wrong
    ID, name, type or class, with QR clear), all carrying 6.6.6.x, and then with the real
    answer 192.0.2.53; it logs each query it gets to log."""
    for _ in range(50):
        real = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        real.bind(("127.0.0.1", 0))
        fp = real.getsockname()[1]
        other_addr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            other_addr.bind(("127.0.0.2", fp))
            break
        except OSError:
            real.close()
            other_addr.close()
    else:
        raise Fail("no port free on both 127.0.0.1 and 127.0.0.2")
    other_port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other_port.bind(("127.0.0.1", 0))
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % fp)
    os.rename(portfile + ".tmp", portfile)

    def reply(q, name=None, rdtype=None, rdclass=None, qid=None, qr=True, addr=REAL):
        m = dns.message.make_response(q)
        if name or rdtype or rdclass:
            m.question = [dns.rrset.RRset(dns.name.from_text(name) if name else q.question[0].name,
                                          rdclass or q.question[0].rdclass,
                                          rdtype or q.question[0].rdtype)]
        m.answer.append(dns.rrset.from_text(q.question[0].name, 3600, "IN", "A", addr))
        if qid is not None:
            m.id = qid
        if not qr:
            m.flags &= ~dns.flags.QR
        return m.to_wire()

    while True:
        wire, peer = real.recvfrom(65535)
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            continue
        with open(log, "a") as f:
            f.write(json.dumps({"t": time.time(), "sport": peer[1], "id": q.id,
                                "name": q.question[0].name.to_text()}) + "\n")
        forged = [
            (other_port, reply(q, addr=SPOOF % 1)),
            (other_addr, reply(q, addr=SPOOF % 2)),
            (real, reply(q, qid=q.id ^ 0x5a5a, addr=SPOOF % 3)),
            (real, reply(q, name="x" + q.question[0].name.to_text(), addr=SPOOF % 4)),
            (real, reply(q, rdtype=dns.rdatatype.AAAA, addr=SPOOF % 5)),
            (real, reply(q, rdclass=dns.rdataclass.CH, addr=SPOOF % 6)),
            (real, reply(q, qr=False, addr=SPOOF % 7)),
        ]
        for sock, w in forged:
            sock.sendto(w, peer)
            time.sleep(0.02)
        real.sendto(reply(q), peer)


def spoof(port, log, count="3"):
    """Queries answered by the spoofer: the client gets the real answer, also from the cache
    afterwards and over TCP, never a forged one."""
    p = int(port)
    for i in range(int(count)):
        name = "s%d-%x.spoof.test" % (i, int(time.time() * 1000))
        r = udp(p, query(name, qid=100 + i), timeout=10)
        expect(r is not None and addresses(r) == [REAL],
               "the real answer %s for %s, not a forged one" % (REAL, name), r)
        expect(len(read_log(log, name)) == 1, "the spoofer was asked for %s" % name)
        r = udp(p, query(name, qid=200 + i))
        expect(r is not None and addresses(r) == [REAL], "the cache holds the real answer "
               "for %s" % name, r)
        r = tcp(p, query(name, qid=300 + i))
        expect(r is not None and addresses(r) == [REAL], "over TCP too", r)
        expect(len(read_log(log, name)) == 1, "the later queries for %s came from the cache" %
               name)


def forward_max(port, log, prefix, n="5", limit="2"):
    """With dns-forward-max=limit and a slow upstream, of n concurrent distinct queries all but
    limit are REFUSED at once (before any slow answer), and the others are answered; then the
    server forwards again."""
    p, n, limit = int(port), int(n), int(limit)
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        socks.append(s)
    order = []
    try:
        for i, s in enumerate(socks):
            s.sendto(query("%s%d.slow.test" % (prefix, i), qid=i, edns=1232).to_wire(),
                     ("127.0.0.1", p))
        waiting = list(socks)
        end = time.monotonic() + 20
        while waiting and time.monotonic() < end:
            r, _, _ = select.select(waiting, [], [], 0.5)
            for s in r:
                m = dns.message.from_wire(s.recv(65535))
                order.append(m)
                waiting.remove(s)
    finally:
        for s in socks:
            s.close()
    expect(len(order) == n, "all %d clients get a reply, %d did" % (n, len(order)))
    refused = [m for m in order if m.rcode() == dns.rcode.REFUSED]
    answered = [m for m in order if m.rcode() == dns.rcode.NOERROR and
                addresses(m) == ["192.0.2.99"]]
    print("  replies in order: %s" % [dns.rcode.to_text(m.rcode()) for m in order])
    expect(len(refused) >= n - limit, "at least %d REFUSED, got %d" % (n - limit, len(refused)))
    expect(len(refused) + len(answered) == n, "the others answered: %s" % [
        describe(m) for m in order])
    expect(order[:len(refused)] == refused, "the REFUSED come at once, before any answer")
    expect(all(m.edns == 0 for m in refused), "REFUSED keeps the client's OPT record")
    sent = [e for e in read_log(log) if e["name"].startswith(prefix)]
    expect(len(sent) == len(answered), "only the accepted queries reached the upstream: %d" %
           len(sent))
    r = udp(p, query("%sagain.slow.test" % prefix), timeout=10)
    expect(r is not None and addresses(r) == ["192.0.2.99"], "forwarding works afterwards", r)


def where(logs, name):
    """The logs (by index) in which name appears."""
    return [i for i, log in enumerate(logs) if read_log(log, name)]


def servers(port, mode, logs, prefix, n="8"):
    """Server selection over two upstreams (logs: theirs, comma-separated, in config order).
    strict: every query goes to the first one only; strict-refused: the first refuses all, the
    answer comes from the second, after the first was asked; all: every query to both;
    default: the first query to both, later ones to one server, the same every time."""
    p, n = int(port), int(n)
    logs = logs.split(",")
    tag = "%x" % int(time.time() * 1000)
    names = ["%s%d-%s.example.com" % (prefix, i, tag) for i in range(n)]
    # www.example.com is in the zone: ask for names that are, too (CNAMEs are not needed).
    for name in names:
        r = udp(p, query(name), timeout=10)
        expect(r is not None, "a reply for %s" % name)
        if mode == "strict-refused":
            expect(r.rcode() == dns.rcode.NXDOMAIN,
                   "the second server's NXDOMAIN, not the first's REFUSED", r)
            expect(where(logs, name) == [0, 1], "%s asked of both servers: %s" % (
                name, where(logs, name)))
            first = read_log(logs[0], name)[0]["t"]
            second = read_log(logs[1], name)[0]["t"]
            expect(first <= second, "the first server was asked first")
        else:
            expect(r.rcode() == dns.rcode.NXDOMAIN, "NXDOMAIN from upstream", r)
    # The server that answered logged the query before answering, but another one asked at the
    # same time may not have written its line yet: wait for what is expected, then give an
    # unexpected extra line a moment to show up.
    def state():
        return [where(logs, name) for name in names]

    expected = {"strict": lambda g: all(x == [0] for x in g),
                "strict-refused": lambda g: True,
                "all": lambda g: all(x == [0, 1] for x in g),
                "default": lambda g: g[0] == [0, 1] and all(len(x) == 1 for x in g[1:])}[mode]
    wait_for(lambda: expected(state()), limit=10)
    time.sleep(0.5)
    got = state()
    print("  %s: %s" % (mode, got))
    if mode == "strict":
        expect(all(g == [0] for g in got), "every query to the first server only: %s" % got)
    elif mode == "all":
        expect(all(g == [0, 1] for g in got), "every query to both servers: %s" % got)
    elif mode == "default":
        expect(got[0] == [0, 1], "the first query goes to both servers: %s" % got[0])
        later = got[1:]
        expect(all(len(g) == 1 for g in later), "later queries go to one server: %s" % later)
        expect(len({g[0] for g in later}) == 1, "always the same one: %s" % later)


def tcp_fallback(port, log):
    """An upstream answer truncated over UDP is fetched again over TCP: a client with EDNS 1232
    gets all of it when it fits, a client without EDNS gets TC and no records, and a client
    over TCP gets it whole, also when it is bigger than 1232 bytes."""
    p = int(port)
    want = sorted("192.0.2.%d" % i for i in range(1, 41))
    r = udp(p, query("tcfull.test", edns=1232), timeout=10)
    expect(r is not None and addresses(r) == want and not r.flags & dns.flags.TC,
           "the 40 A records over UDP with EDNS 1232", r)
    transports = [e["transport"] for e in read_log(log, "tcfull.test")]
    expect(transports == ["udp", "tcp"], "asked over UDP, then over TCP: %s" % transports)
    r = udp(p, query("tcfull.test"))
    expect(r is not None and r.flags & dns.flags.TC and not r.answer and r.wire_size <= 512,
           "TC and no records without EDNS", r)
    r = tcp(p, query("tcfull.test"))
    expect(r is not None and addresses(r) == want, "the 40 A records over TCP", r)
    r = udp(p, query("big.test", "TXT", edns=4096), timeout=10)
    expect(r is not None and r.flags & dns.flags.TC and not r.answer and r.wire_size <= 1232,
           "TC and no records for a 3000-byte answer to a client advertising 4096", r)
    r = tcp(p, query("big.test", "TXT", edns=4096), timeout=10)
    strings = [s for rrset in r.answer for rd in rrset for s in rd.strings] if r else []
    expect(r is not None and not r.flags & dns.flags.TC and len(strings) == 16 and
           r.wire_size > 2900, "the 3000-byte answer over TCP", r)


def cache(port, log):
    """A repeated query is answered from the cache, with the TTL counting down."""
    p = int(port)
    before = len(read_log(log, "long.example.com"))
    r1 = udp(p, query("long.example.com"))
    expect(r1 is not None and addresses(r1) == ["198.51.100.8"] and ttls(r1) == [86400],
           "long.example.com from upstream with TTL 86400", r1)
    start = time.monotonic()
    time.sleep(2)
    r2 = udp(p, query("long.example.com"))
    waited = time.monotonic() - start
    expect(r2 is not None and addresses(r2) == ["198.51.100.8"], "the cached answer", r2)
    expect(len(read_log(log, "long.example.com")) == before + 1,
           "the first query was forwarded, the second was not")
    t = ttls(r2)[0]
    expect(86400 - waited - 2 <= t <= 86398, "the TTL counted down by about %.1f s: %d" % (
        waited, t), r2)
    expect(not r2.flags & dns.flags.AA, "a cached answer has no AA", r2)


def max_ttl(port, log, cap):
    """max-ttl caps the TTLs handed out, relayed and cached; smaller TTLs stay."""
    p, cap = int(port), int(cap)
    before = len(read_log(log, "long.example.com"))
    for i in range(2):
        r = udp(p, query("long.example.com"))
        expect(r is not None and addresses(r) == ["198.51.100.8"] and 0 < ttls(r)[0] <= cap,
               "long.example.com with a TTL of at most %d (query %d)" % (cap, i + 1), r)
    expect(len(read_log(log, "long.example.com")) == before + 1, "the second one from the cache")
    r = udp(p, query("www.example.com"))
    expect(r is not None and ttls(r) == [min(300, cap)], "www.example.com TTL %d" % min(300, cap),
           r)


def negative(port, log, name, forwards):
    """Two queries for a name upstream says does not exist: NXDOMAIN both times, and the
    upstream sees forwards (1: the first answer was cached, 2: it was not)."""
    p = int(port)
    for i in range(2):
        r = udp(p, query(name))
        expect(r is not None and r.rcode() == dns.rcode.NXDOMAIN, "NXDOMAIN for %s" % name, r)
    got = len(read_log(log, name))
    expect(got == int(forwards), "the upstream saw %s %s times, not %d" % (name, forwards, got))


def resolv(port, logs, prefix):
    """Queries reach the upstream named in the resolv-file (the last of logs, after a change):
    waits until one of a series of distinct names shows up in that log (it is re-read within a
    few seconds of a change), then checks later queries go there alone."""
    p = int(port)
    logs = logs.split(",")
    tag = "%x" % int(time.time() * 1000)
    i = [0]

    def reached():
        name = "%s%d-%s.example.com" % (prefix, i[0], tag)
        i[0] += 1
        r = udp(p, query(name), timeout=2)
        return r is not None and r.rcode() == dns.rcode.NXDOMAIN and where(logs, name) == [
            len(logs) - 1]

    expect(wait_for(reached, limit=15, step=0.2), "queries reach the server of the resolv-file "
           "(%s) within 15 s" % logs[-1])
    for k in range(3):
        name = "%safter%d-%s.example.com" % (prefix, k, tag)
        r = udp(p, query(name), timeout=5)
        expect(r is not None and where(logs, name) == [len(logs) - 1], "%s went to the "
               "resolv-file's server only: %s" % (name, where(logs, name)), r)


def refused(port, name):
    """Without any server the query is REFUSED."""
    r = udp(int(port), query(name))
    expect(r is not None and r.rcode() == dns.rcode.REFUSED, "REFUSED without servers", r)


def can_bind(addr, port):
    """Exit 0 when addr:port can be bound for UDP and TCP (the port-53 sub-tests need it)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((addr, int(port)))
        except OSError as e:
            raise Fail("%s:%s: %s" % (addr, port, e))
        finally:
            s.close()


if __name__ == "__main__":
    raise SystemExit(main({
        "ports-ids": ports_ids, "merge": merge, "spoof": spoof, "spoofer": spoofer,
        "forward-max": forward_max,
        "servers": servers, "tcp-fallback": tcp_fallback, "cache": cache, "max-ttl": max_ttl,
        "negative": negative, "resolv": resolv, "refused": refused, "can-bind": can_bind,
    }))
