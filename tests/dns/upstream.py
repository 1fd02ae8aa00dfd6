#!/usr/bin/python3
"""upstream.py: a scripted upstream DNS server on loopback for zt's resolver tests.

It answers UDP and TCP from a small zone file and a few special names, and can log every query it
receives (transport, source port, ID, name, type) as JSON lines for tests that check forwarding.

    upstream.py --port 0 --zone zone.txt [--log queries.jsonl] [--portfile F]

Zone lines are dnspython RR text ("name ttl IN type rdata"), relative to the root. Names not in
the zone get NXDOMAIN with the root SOA; names in the zone without the type get NODATA with it.
Special names (any type): servfail.test SERVFAIL, refused.test REFUSED, notimp.test NOTIMP,
silent.test no reply, slow.test answered after --slow seconds, tc.test always TC over UDP,
big.test a TXT answer of about 3000 bytes. For the forwarding tests: NAME.slow.test is slow
like slow.test; tcfull.test A is TC with no records over UDP and forty A records (about 700
bytes) over TCP; NAME.nosoa.test is NXDOMAIN without an SOA. --rcode RCODE answers every query
with that rcode and nothing else (a server that refuses everything).
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

ROOT_SOA = dns.rrset.from_text(".", 86400, "IN", "SOA",
                               "a.root-servers.net. nstld.verisign-grs.com. 2024010101 1800 900 604800 86400")


def load_zone(path):
    records = {}
    if not path:
        return records
    with open(path) as f:
        for line in f:
            line = line.split(";", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 4)
            name, ttl, cls, typ, rdata = parts[0], int(parts[1]), parts[2], parts[3], parts[4]
            rr = dns.rrset.from_text(name if name.endswith(".") else name + ".", ttl, cls, typ, rdata)
            key = (rr.name.canonicalize(), rr.rdtype)
            if key in records:
                records[key].union_update(rr)
            else:
                records[key] = rr
    return records


class Upstream:
    def __init__(self, args):
        self.args = args
        self.records = load_zone(args.zone)
        self.names = {k[0] for k in self.records}
        self.lock = threading.Lock()
        self.logf = open(args.log, "a") if args.log else None

    def log(self, transport, peer, q):
        if not self.logf:
            return
        entry = {"t": time.time(), "transport": transport, "src": peer[0], "sport": peer[1],
                 "id": q.id, "name": q.question[0].name.to_text() if q.question else "",
                 "type": dns.rdatatype.to_text(q.question[0].rdtype) if q.question else "",
                 "edns": q.edns, "payload": q.payload if q.edns >= 0 else None,
                 "rd": bool(q.flags & dns.flags.RD)}
        with self.lock:
            self.logf.write(json.dumps(entry) + "\n")
            self.logf.flush()

    def answer(self, wire, transport, peer):
        """The reply bytes for a query, or None for no reply."""
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        self.log(transport, peer, q)
        if not q.question:
            return None
        qn = q.question[0].name.canonicalize()
        qt = q.question[0].rdtype
        r = dns.message.make_response(q)
        r.flags |= dns.flags.RA
        label = qn.to_text().rstrip(".")
        special = label.split(".", 1)[-1] if label.count(".") > 1 else label
        if self.args.rcode:
            r.set_rcode(dns.rcode.from_text(self.args.rcode))
        elif label in ("servfail.test",) or special == "servfail.test":
            r.set_rcode(dns.rcode.SERVFAIL)
        elif label == "refused.test" or special == "refused.test":
            r.set_rcode(dns.rcode.REFUSED)
        elif label == "notimp.test":
            r.set_rcode(dns.rcode.NOTIMP)
        elif label == "silent.test":
            return None
        elif label == "slow.test" or label.endswith(".slow.test"):
            time.sleep(self.args.slow)
            r.answer.append(dns.rrset.from_text(qn, 60, "IN", "A", "192.0.2.99"))
        elif label == "tc.test" and transport == "udp":
            r.flags |= dns.flags.TC
        elif label == "tcfull.test" and qt == dns.rdatatype.A:
            if transport == "udp":
                r.flags |= dns.flags.TC
            else:
                r.answer.append(dns.rrset.from_text_list(
                    qn, 300, "IN", "A", ["192.0.2.%d" % i for i in range(1, 41)]))
        elif label.endswith(".nosoa.test"):
            r.set_rcode(dns.rcode.NXDOMAIN)
        elif label == "big.test":
            strings = " ".join('"' + ("%03d" % i) * 60 + '"' for i in range(16))
            r.answer.append(dns.rrset.from_text(qn, 300, "IN", "TXT", strings))
        else:
            cname = self.records.get((qn, dns.rdatatype.CNAME))
            rr = self.records.get((qn, qt))
            if rr is not None:
                r.answer.append(rr)
            elif cname is not None and qt != dns.rdatatype.CNAME:
                r.answer.append(cname)
                target = cname[0].target.canonicalize()
                rr2 = self.records.get((target, qt))
                if rr2 is not None:
                    r.answer.append(rr2)
            elif qn in self.names:
                r.authority.append(ROOT_SOA)
            else:
                r.set_rcode(dns.rcode.NXDOMAIN)
                r.authority.append(ROOT_SOA)
        limit = 65535
        if transport == "udp":
            limit = max(512, q.payload) if q.edns >= 0 else 512
        try:
            out = r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            r.answer = []
            r.authority = []
            r.additional = []
            r.flags |= dns.flags.TC
            out = r.to_wire()
        return out

    def serve_udp(self, sock):
        while True:
            wire, peer = sock.recvfrom(65535)
            threading.Thread(target=self.udp_one, args=(sock, wire, peer), daemon=True).start()

    def udp_one(self, sock, wire, peer):
        out = self.answer(wire, "udp", peer)
        if out is not None:
            sock.sendto(out, peer)

    def serve_tcp(self, lsock):
        while True:
            conn, peer = lsock.accept()
            threading.Thread(target=self.tcp_one, args=(conn, peer), daemon=True).start()

    def tcp_one(self, conn, peer):
        with conn:
            while True:
                hdr = recv_exact(conn, 2)
                if not hdr:
                    return
                wire = recv_exact(conn, struct.unpack("!H", hdr)[0])
                if wire is None:
                    return
                out = self.answer(wire, "tcp", peer)
                if out is None:
                    continue
                conn.sendall(struct.pack("!H", len(out)) + out)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--zone")
    ap.add_argument("--log")
    ap.add_argument("--portfile")
    ap.add_argument("--slow", type=float, default=2.0)
    ap.add_argument("--rcode", help="answer every query with this rcode (e.g. REFUSED)")
    args = ap.parse_args()
    up = Upstream(args)
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    # Bind UDP and TCP to the same port, retrying if the kernel's UDP choice is taken for TCP.
    for _ in range(50):
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind((args.addr, args.port))
        port = u.getsockname()[1]
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            t.bind((args.addr, port))
            break
        except OSError:
            u.close()
            t.close()
            if args.port:
                raise
    t.listen(64)
    if args.portfile:
        tmp = args.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.portfile)
    else:
        print(port, flush=True)
    threading.Thread(target=up.serve_tcp, args=(t,), daemon=True).start()
    up.serve_udp(u)


if __name__ == "__main__":
    main()
