"""dnsclient.py: the client side of zt's DNS integration tests (UDP, TCP, raw packets, logs).

Imported by the *_checks.py scripts. Nothing here sleeps for a fixed time to let something
happen: waits are for a condition, with generous limits.
"""
import json
import select
import socket
import struct
import sys
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype

TIMEOUT = 3.0


class Fail(Exception):
    """A check that did not hold; the message says what was expected and what came."""


def query(name, rdtype="A", qid=None, edns=None, rdclass="IN", rd=True):
    """A query message; edns is the advertised UDP size or None for no OPT record."""
    q = dns.message.make_query(name, rdtype, rdclass=rdclass, use_edns=edns is not None,
                               payload=edns or 1232)
    if qid is not None:
        q.id = qid
    if not rd:
        q.flags &= ~dns.flags.RD
    return q


def udp_raw(port, wire, addr="127.0.0.1", timeout=TIMEOUT):
    """Sends wire in one datagram; the reply bytes, or None when nothing came in time."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(wire, (addr, port))
        data, _ = s.recvfrom(65535)
        return data
    except (socket.timeout, ConnectionRefusedError):
        return None
    finally:
        s.close()


def udp(port, msg, addr="127.0.0.1", timeout=TIMEOUT):
    """The parsed reply to msg over UDP, or None."""
    data = udp_raw(port, msg.to_wire(), addr, timeout)
    if data is None:
        return None
    r = dns.message.from_wire(data)
    r.wire_size = len(data)
    return r


def tcp_connect(port, addr="127.0.0.1", timeout=TIMEOUT):
    s = socket.create_connection((addr, port), timeout=timeout)
    return s


def frame(msg):
    wire = msg.to_wire() if not isinstance(msg, bytes) else msg
    return struct.pack("!H", len(wire)) + wire


def recv_exact(s, n):
    """n bytes from s; None on a clean EOF before them; raises on a reset or a time-out."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_read(s):
    """The next framed message on s (parsed), or None at EOF."""
    hdr = recv_exact(s, 2)
    if hdr is None:
        return None
    data = recv_exact(s, struct.unpack("!H", hdr)[0])
    if data is None:
        return None
    r = dns.message.from_wire(data)
    r.wire_size = len(data)
    return r


def tcp(port, msg, addr="127.0.0.1", timeout=TIMEOUT):
    """The parsed reply to msg over a new TCP connection, or None."""
    s = tcp_connect(port, addr, timeout)
    try:
        s.sendall(frame(msg))
        return tcp_read(s)
    except socket.timeout:
        return None
    finally:
        s.close()


def wait_eof(s, limit):
    """Seconds until the peer closes s (EOF or reset), reading and discarding; None if it stays
    open for limit seconds."""
    start = time.monotonic()
    s.setblocking(False)
    while True:
        left = limit - (time.monotonic() - start)
        if left <= 0:
            return None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return time.monotonic() - start
        except BlockingIOError:
            continue
        if not chunk:
            return time.monotonic() - start


def addresses(r, rdtype=dns.rdatatype.A):
    """The sorted addresses (or rdata texts) of type rdtype in r's answer section."""
    out = []
    for rrset in r.answer:
        if rrset.rdtype == rdtype:
            out.extend(rd.to_text() for rd in rrset)
    return sorted(out)


def ttls(r, rdtype=dns.rdatatype.A):
    return [rrset.ttl for rrset in r.answer if rrset.rdtype == rdtype]


def describe(r):
    if r is None:
        return "no reply"
    return "rcode=%s flags=%s answer=%s size=%s" % (
        dns.rcode.to_text(r.rcode()), dns.flags.to_text(r.flags),
        [x.to_text() for x in r.answer], getattr(r, "wire_size", "?"))


def expect(cond, what, r=None):
    if not cond:
        raise Fail(what + ("" if r is None else ": got " + describe(r)))


def read_log(path, name=None):
    """The JSON lines an upstream.py --log wrote, optionally only those for one query name."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    e = json.loads(line)
                    if name is None or e["name"].lower().rstrip(".") == name.lower().rstrip("."):
                        out.append(e)
    except FileNotFoundError:
        pass
    return out


def wait_for(cond, limit=10.0, step=0.05):
    """Polls cond() until it returns something true or limit seconds pass; returns its value."""
    end = time.monotonic() + limit
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def main(checks):
    """Runs the check named by argv[1] with --key value arguments; exit 0 when it holds."""
    if len(sys.argv) < 2 or sys.argv[1] not in checks:
        print("usage: %s CHECK [--key value ...]; checks: %s" % (sys.argv[0],
              " ".join(sorted(checks))), file=sys.stderr)
        return 2
    kw = {}
    args = sys.argv[2:]
    while args:
        k = args.pop(0)
        if not k.startswith("--") or not args:
            print("bad argument %r" % k, file=sys.stderr)
            return 2
        kw[k[2:].replace("-", "_")] = args.pop(0)
    try:
        checks[sys.argv[1]](**kw)
    except Fail as e:
        print("  %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    return 0
