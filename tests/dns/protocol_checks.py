#!/usr/bin/python3
"""protocol_checks.py: wire-protocol checks of `zt dns serve` for tests/integration/dns-protocol.sh.

    protocol_checks.py CHECK --port PORT [--key value ...]

The server is expected to run the configuration dns-protocol.sh writes: local.test A 192.0.2.1,
many.test with 60 A records from a hosts file (about 1000 bytes), bigtxt.test with a TXT answer
of about 2000 bytes (ten records), NAME.slow.test forwarded to a slow upstream (192.0.2.99).
"""
import os
import signal
import socket
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from dnsclient import (Fail, addresses, expect, frame, main, query, tcp, tcp_connect,
                       tcp_read, udp, udp_raw, wait_eof)

MANY = sorted("10.0.0.%d" % i for i in range(1, 61))


def ready(port, addr="127.0.0.1", limit="10", pid=None):
    """The server answers version.bind within limit seconds (and process pid still runs)."""
    end = time.monotonic() + float(limit)
    while time.monotonic() < end:
        if pid is not None and not os.path.exists("/proc/%s" % pid):
            raise Fail("process %s exited" % pid)
        if udp(int(port), query("version.bind", "TXT", rdclass="CH"), addr, 0.5) is not None:
            return
        time.sleep(0.1)
    raise Fail("no answer on %s port %s" % (addr, port))


def answers(port, addr, name, want):
    """name is answered with the addresses want (comma-separated) at addr, over UDP and TCP."""
    want = sorted(want.split(","))
    for transport in (udp, tcp):
        try:
            r = transport(int(port), query(name), addr)
        except OSError as e:
            raise Fail("%s over %s at %s: %s" % (name, transport.__name__, addr, e))
        expect(r is not None and addresses(r) == want, "%s -> %s at %s over %s" % (
            name, ",".join(want), addr, transport.__name__), r)


def silent(port, addr, name="local.test"):
    """Nothing at addr answers a query, over UDP or TCP (refused, reset, closed, or quiet)."""
    r = udp(int(port), query(name), addr, 1.5)
    expect(r is None, "no UDP answer at %s" % addr, r)
    try:
        r = tcp(int(port), query(name), addr, 1.5)
    except OSError:
        r = None
    expect(r is None, "no TCP answer at %s" % addr, r)


def check_answer(r, qid, name):
    """r answers query qid for name with the data the configuration gives it."""
    expect(r is not None, "a reply to %s (id %d)" % (name, qid))
    expect(r.id == qid, "reply id %d, expected %d (replies out of order?)" % (r.id, qid), r)
    expect(r.question[0].name.to_text().rstrip(".") == name, "reply for %s" % name, r)
    want = {"local.test": ["192.0.2.1"], "many.test": MANY}.get(name, ["192.0.2.99"])
    expect(addresses(r) == want, "%s -> %s" % (name, want[:3]), r)


def tcp_sequential(port):
    """Several queries one after the other on one connection, each answered."""
    s = tcp_connect(int(port))
    try:
        names = ["local.test", "many.test", "local.test", "many.test", "local.test"]
        for i, name in enumerate(names):
            s.sendall(frame(query(name, qid=1000 + i)))
            check_answer(tcp_read(s), 1000 + i, name)
    finally:
        s.close()


def tcp_pipelined(port, slow):
    """Three queries in one write, the first forwarded to a slow upstream: three answers, in
    the order of the queries."""
    s = tcp_connect(int(port), timeout=15)
    try:
        names = [slow, "local.test", "many.test"]
        s.sendall(b"".join(frame(query(n, qid=2000 + i)) for i, n in enumerate(names)))
        for i, name in enumerate(names):
            check_answer(tcp_read(s), 2000 + i, name)
    finally:
        s.close()


def tcp_halfclose(port, slow):
    """A client that shuts down its sending side after its queries (the first one forwarded to
    a slow upstream) still gets every answer, in order, and then EOF."""
    s = tcp_connect(int(port), timeout=15)
    try:
        names = [slow, "local.test"]
        s.sendall(b"".join(frame(query(n, qid=3000 + i)) for i, n in enumerate(names)))
        s.shutdown(socket.SHUT_WR)
        for i, name in enumerate(names):
            check_answer(tcp_read(s), 3000 + i, name)
        expect(tcp_read(s) is None, "EOF after the answers")
    finally:
        s.close()


def tcp_abandon(port, slow1, slow2):
    """Clients that close with forwarded queries outstanding do not upset the server."""
    for _ in range(3):
        s = tcp_connect(int(port))
        s.sendall(frame(query(slow1, qid=1)) + frame(query(slow2, qid=2)))
        s.close()
    s = tcp_connect(int(port))
    s.sendall(frame(query("local.test", qid=3)))
    s.close()
    # This one waits for the same slow answers that go to the closed connections.
    check_answer(tcp(int(port), query(slow2, qid=4), timeout=15), 4, slow2)
    check_answer(tcp(int(port), query(slow1, qid=5), timeout=15), 5, slow1)
    check_answer(tcp(int(port), query("local.test", qid=6)), 6, "local.test")


def tcp_idle(port):
    """A connection that goes quiet is closed by the server (its idle timeout is 10 s), but not
    while it is in use: a query 3 s after the first is still answered on it."""
    s = tcp_connect(int(port), timeout=10)
    try:
        s.sendall(frame(query("local.test", qid=1)))
        check_answer(tcp_read(s), 1, "local.test")
        time.sleep(3)
        s.sendall(frame(query("local.test", qid=2)))
        check_answer(tcp_read(s), 2, "local.test")
        t = wait_eof(s, 40)
        expect(t is not None, "the server closes the idle connection within 40 s")
        # The timer cannot fire before it is due, whatever the load: a safe lower bound.
        expect(t >= 5, "the connection closed %.1f s after the last answer; the idle "
               "timeout is 10 s" % t)
    finally:
        s.close()


def tcp_silent(port):
    """A client that connects and never sends anything is disconnected."""
    s = tcp_connect(int(port))
    try:
        t = wait_eof(s, 40)
        expect(t is not None, "the server closes a silent connection within 40 s")
    finally:
        s.close()


def tcp_limit(port, mode):
    """100 queries on one connection are answered; the 101st ends the connection (dnsmasq
    answers the 100th and closes on the 101st). mode: sequential or pipelined."""
    s = tcp_connect(int(port), timeout=10)
    answered = 0
    try:
        if mode == "pipelined":
            s.sendall(b"".join(frame(query("local.test", qid=i)) for i in range(101)))
        for i in range(101):
            if mode == "sequential":
                try:
                    s.sendall(frame(query("local.test", qid=i)))
                except (BrokenPipeError, ConnectionResetError):
                    break
            try:
                r = tcp_read(s)
            except ConnectionResetError:
                break
            if r is None:
                break
            check_answer(r, i, "local.test")
            answered += 1
        expect(answered == 100, "100 answers on one connection, got %d" % answered)
        # After the 100th answer the connection ends (EOF or reset), it does not hang.
        expect(wait_eof(s, 10) is not None, "the connection ends after the 100th answer")
    finally:
        s.close()


def udp_junk(port):
    """Zero-length and 11-byte datagrams and a query with QR set get no reply, and the server
    goes on answering."""
    p = int(port)
    q = query("local.test", qid=0x4242).to_wire()
    for what, wire in (("a zero-length datagram", b""), ("an 11-byte datagram", q[:11]),
                       ("a query with QR set", bytes([q[0], q[1], q[2] | 0x80]) + q[3:])):
        got = udp_raw(p, wire, timeout=1.0)
        expect(got is None, "no reply to %s, got %r" % (what, got))
    r = udp(p, query("local.test", qid=77))
    check_answer(r, 77, "local.test")


def edns(port):
    """A reply carries an OPT record exactly when the query had one, advertising 1232."""
    p = int(port)
    for transport in (udp, tcp):
        r = transport(p, query("local.test"))
        expect(r is not None and r.edns < 0, "no OPT in the reply to a query without one", r)
        for size in (512, 1232, 4096):
            r = transport(p, query("local.test", edns=size))
            expect(r is not None and r.edns == 0, "an OPT in the reply to a query with one", r)
            expect(r.payload == 1232, "the reply advertises 1232 bytes, not %s" % r.payload)


def truncation(port):
    """Local answers too big for the client come back with TC and no records over UDP and whole
    over TCP; a client advertising 4096 gets at most 1232 bytes."""
    p = int(port)
    r = udp(p, query("many.test"))
    expect(r is not None and r.flags & dns.flags.TC, "TC for 60 A records without EDNS", r)
    expect(not r.answer and not r.authority and r.wire_size <= 512,
           "a truncated reply has no records and fits 512 bytes", r)
    expect(r.rcode() == dns.rcode.NOERROR, "a truncated reply keeps NOERROR", r)
    r = tcp(p, query("many.test"))
    expect(r is not None and addresses(r) == MANY and not r.flags & dns.flags.TC,
           "the 60 A records over TCP", r)
    for size in (1232, 4096):
        r = udp(p, query("many.test", edns=size))
        expect(r is not None and addresses(r) == MANY and not r.flags & dns.flags.TC,
               "the 60 A records over UDP with EDNS %d" % size, r)
        expect(r.wire_size <= 1232, "at most 1232 bytes", r)
    r = udp(p, query("bigtxt.test", "TXT", edns=4096))
    expect(r is not None and r.flags & dns.flags.TC and not r.answer,
           "TC and no records for a 2000-byte TXT answer to a client advertising 4096", r)
    expect(r.wire_size <= 1232, "at most 1232 bytes to a client advertising 4096", r)
    r = tcp(p, query("bigtxt.test", "TXT", edns=4096))
    expect(r is not None and not r.flags & dns.flags.TC and r.wire_size > 1232,
           "the whole TXT answer over TCP", r)
    strings = sorted(s for rrset in r.answer for rd in rrset for s in rd.strings)
    expect(strings == [(b"%d" % i) * 200 for i in range(10)],
           "the ten TXT records of bigtxt.test", r)


def udp_burst(port, pid, sockets="4", each="40"):
    """More datagrams than one wake-up reads (64) wait on the server's socket at once, with a
    TCP query and a forwarded one among them: every query is answered, once. The server is
    stopped (SIGSTOP) while the burst is queued, so it finds the whole burst at once and takes
    the busy path (its socket leaves the event loop's set until the queue is drained, the next
    bursts run from a zero timeout) deterministically, not only under load."""
    p, n, k = int(port), int(sockets), int(each)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    os.kill(int(pid), signal.SIGSTOP)
    try:
        c = tcp_connect(p)
        for i, s in enumerate(socks):
            for j in range(k):
                s.sendto(query("local.test", qid=i * 1000 + j).to_wire(), ("127.0.0.1", p))
        socks[0].sendto(query("burst.slow.test", qid=999).to_wire(), ("127.0.0.1", p))
        c.sendall(frame(query("many.test", qid=4242)))
    finally:
        os.kill(int(pid), signal.SIGCONT)
    want = {i: set(range(k)) for i in range(n)}
    want[0].add(999)
    end = time.monotonic() + 10
    for i, s in enumerate(socks):
        while want[i] and time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                r = dns.message.from_wire(s.recv(4096))
            except socket.timeout:
                break
            j = r.id - i * 1000 if r.id != 999 else 999
            expect(j in want[i], "one reply per query (socket %d, id %d)" % (i, r.id), r)
            want[i].discard(j)
            check_answer(r, r.id, "burst.slow.test" if j == 999 else "local.test")
        s.close()
    left = sum(len(w) for w in want.values())
    expect(left == 0, "all %d queries of the burst answered (%d missing)" % (n * k + 1, left))
    check_answer(tcp_read(c), 4242, "many.test")
    c.close()


def chaos(port, cachesize):
    """version.bind and cachesize.bind CH TXT."""
    p = int(port)
    r = udp(p, query("version.bind", "TXT", rdclass="CH"))
    expect(r is not None and r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA,
           "version.bind answered with AA", r)
    txt = [b"".join(rd.strings) for rrset in r.answer for rd in rrset]
    expect(len(txt) == 1 and txt[0].startswith(b"zt-") and r.answer[0].ttl == 0 and
           r.answer[0].rdclass == dns.rdataclass.CH, "one CH TXT zt-VERSION, TTL 0", r)
    r = udp(p, query("cachesize.bind", "TXT", rdclass="CH"))
    txt = [b"".join(rd.strings) for rrset in r.answer for rd in rrset] if r else []
    expect(txt == [cachesize.encode()], "cachesize.bind is %s" % cachesize, r)


if __name__ == "__main__":
    raise SystemExit(main({
        "ready": ready, "answers": answers, "silent": silent, "tcp-sequential": tcp_sequential,
        "tcp-pipelined": tcp_pipelined, "tcp-halfclose": tcp_halfclose, "tcp-abandon": tcp_abandon,
        "tcp-idle": tcp_idle, "tcp-silent": tcp_silent, "tcp-limit": tcp_limit,
        "udp-junk": udp_junk, "udp-burst": udp_burst,
        "edns": edns, "truncation": truncation, "chaos": chaos,
    }))
