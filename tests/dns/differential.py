#!/usr/bin/python3
"""differential.py: runs dnsmasq and `zt dns serve` on the same configuration and compares answers.

    differential.py --zt ZT [--dnsmasq /usr/sbin/dnsmasq] [--compat doc/dns-compat.md] CASE...

A CASE is tests/dns/cases/NAME.conf (a dnsmasq configuration; @PORT@, @UPSTREAM@, @CASEDIR@ and
@DIR@ are substituted) with tests/dns/cases/NAME.queries, one query per line:

    ID NAME TYPE [class=CH] [tcp] [edns=SIZE|noedns] [rd=0] [do] [cd] [sleep=SECONDS]
    ID raw HEX [tcp]        a raw packet; "no reply" is an answer too

Both servers forward to one scripted upstream (upstream.py) on loopback. Every query goes to
dnsmasq, then to zt, in file order, so both caches see the same history. A difference fails the
run unless "NAME/ID" appears in the compat file's list of known differences.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 1.0
RETRY_TIMEOUT = 4.0


def free_port():
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def exchange(port, wire, tcp, timeout=None):
    """Sends wire to 127.0.0.1:port; returns the reply bytes or None after the timeout."""
    timeout = timeout or TIMEOUT
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            hdr = recv_exact(s, 2)
            if hdr is None:
                return None
            return recv_exact(s, struct.unpack("!H", hdr)[0])
        except socket.timeout:
            return None
        finally:
            s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(wire, ("127.0.0.1", port))
        data, _ = s.recvfrom(65535)
        return data
    except socket.timeout:
        return None
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def parse_query(line):
    fields = line.split()
    qid = fields[0]
    opts = {"tcp": False, "edns": 1232, "rd": True, "do": False, "cd": False, "class": "IN",
            "sleep": 0.0}
    if fields[1] == "raw":
        rest = fields[3:]
        opts["raw"] = bytes.fromhex(fields[2])
    else:
        opts["name"], opts["type"] = fields[1], fields[2]
        rest = fields[3:]
    for f in rest:
        if f == "tcp":
            opts["tcp"] = True
        elif f == "noedns":
            opts["edns"] = None
        elif f.startswith("edns="):
            opts["edns"] = int(f[5:])
        elif f == "rd=0":
            opts["rd"] = False
        elif f == "do":
            opts["do"] = True
        elif f == "cd":
            opts["cd"] = True
        elif f.startswith("class="):
            opts["class"] = f[6:]
        elif f.startswith("sleep="):
            opts["sleep"] = float(f[6:])
        else:
            raise ValueError("unknown query option %r in %r" % (f, line))
    return qid, opts


def make_wire(opts):
    if "raw" in opts:
        return opts["raw"]
    q = dns.message.make_query(opts["name"], opts["type"], rdclass=opts["class"],
                               use_edns=opts["edns"] is not None,
                               payload=opts["edns"] or 1232, want_dnssec=opts["do"])
    if not opts["rd"]:
        q.flags &= ~dns.flags.RD
    if opts["cd"]:
        q.flags |= dns.flags.CD
    return q.to_wire()


def normalise(wire, qwire):
    """A comparable description of a reply (None: no reply)."""
    if wire is None:
        return "no reply"
    try:
        m = dns.message.from_wire(wire)
    except Exception as e:
        return "unparseable reply: %s (%s)" % (e, wire.hex())
    out = []
    if len(qwire) >= 2 and wire[:2] != qwire[:2]:
        out.append("ID does not match the query")
    flags = dns.flags.to_text(m.flags)
    out.append("rcode=%s opcode=%s flags=%s" % (dns.rcode.to_text(m.rcode()),
                                                 dns.opcode.to_text(m.opcode()), flags))
    out.append("question=%s" % [q.to_text() for q in m.question])
    for sect, rrsets in (("answer", m.answer), ("authority", m.authority),
                         ("additional", m.additional)):
        rows = []
        for rrset in rrsets:
            for rd in rrset:
                rows.append("%s %d %s %s %s" % (rrset.name.to_text().lower(), rrset.ttl,
                                                dns.rdataclass.to_text(rrset.rdclass),
                                                dns.rdatatype.to_text(rrset.rdtype),
                                                rd.to_text().lower()))
        out.append("%s=%s" % (sect, sorted(rows)))
    if m.edns >= 0:
        opts = sorted("%d:%s" % (o.otype, o.to_wire().hex()) for o in m.options)
        out.append("edns version=%d payload=%d do=%s options=%s" % (
            m.edns, m.payload, bool(m.ednsflags & dns.flags.DO), opts))
    else:
        out.append("no edns")
    return "\n".join(out)


TTL_RE = re.compile(r"^(\S+) (\d+) ")


def same(a, b):
    """Equal, allowing TTLs of cached records to differ by one second (the clock ticked)."""
    if a == b:
        return True
    la, lb = a.split("\n"), b.split("\n")
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if x == y:
            continue
        if not (x.startswith(("answer=", "authority=", "additional=")) and x[:6] == y[:6]):
            return False
        rx = re.findall(r"'([^']*)'", x)
        ry = re.findall(r"'([^']*)'", y)
        if len(rx) != len(ry):
            return False
        for p, q in zip(rx, ry):
            pa, qa = p.split(" ", 2), q.split(" ", 2)
            if pa[0] != qa[0] or pa[2] != qa[2] or abs(int(pa[1]) - int(qa[1])) > 1:
                return False
    return True


def known_differences(path):
    if not path or not os.path.exists(path):
        return set()
    ids = set()
    with open(path) as f:
        for line in f:
            m = re.match(r"^\|\s*`([\w.-]+/[\w.-]+)`\s*\|", line)
            if m:
                ids.add(m.group(1))
    return ids


def wait_ready(port, proc, what):
    probe = dns.message.make_query("version.bind", "TXT", rdclass="CH").to_wire()
    for _ in range(100):
        if proc.poll() is not None:
            raise RuntimeError("%s exited with status %s" % (what, proc.returncode))
        if exchange(port, probe, False) is not None:
            return
        time.sleep(0.1)
    raise RuntimeError("%s does not answer on port %d" % (what, port))


def run_case(args, case, known, workdir):
    casedir = os.path.join(HERE, "cases")
    with open(os.path.join(casedir, case + ".conf")) as f:
        template = f.read()
    with open(os.path.join(casedir, case + ".queries")) as f:
        queries = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
    d = os.path.join(workdir, case)
    os.makedirs(d)
    upport = free_port()
    upstream = subprocess.Popen([sys.executable, os.path.join(HERE, "upstream.py"), "--port",
                                 str(upport), "--zone", os.path.join(HERE, "zone.txt"),
                                 "--log", os.path.join(d, "upstream.log")],
                                stdout=subprocess.DEVNULL)
    procs = [upstream]
    try:
        ports = {}
        for who in ("dnsmasq", "zt"):
            port = free_port()
            ports[who] = port
            conf = (template.replace("@PORT@", str(port))
                    .replace("@UPSTREAM@", "127.0.0.1#%d" % upport)
                    .replace("@CASEDIR@", casedir).replace("@DIR@", d))
            path = os.path.join(d, who + ".conf")
            with open(path, "w") as f:
                f.write(conf)
            log = open(os.path.join(d, who + ".log"), "w")
            if who == "dnsmasq":
                cmd = [args.dnsmasq, "--keep-in-foreground", "--user=root", "--conf-file=" + path,
                       "--pid-file=" + os.path.join(d, "dnsmasq.pid")]
            else:
                cmd = [args.zt, "dns", "serve", "--keep-in-foreground", "--conf-file=" + path,
                       "--pid-file=" + os.path.join(d, "zt.pid")]
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            procs.append(p)
            wait_ready(port, p, who)
        failures = 0
        for line in queries:
            qid, opts = parse_query(line)
            if opts["sleep"]:
                time.sleep(opts["sleep"])
            wire = make_wire(opts)
            rref = exchange(ports["dnsmasq"], wire, opts["tcp"])
            rgot = exchange(ports["zt"], wire, opts["tcp"])
            # On a busy machine one server may miss the short deadline: when exactly one of
            # them was silent, ask it once more (as a client retries) with a longer one.
            if (rref is None) != (rgot is None):
                if rref is None:
                    rref = exchange(ports["dnsmasq"], wire, opts["tcp"], RETRY_TIMEOUT)
                else:
                    rgot = exchange(ports["zt"], wire, opts["tcp"], RETRY_TIMEOUT)
            ref = normalise(rref, wire)
            got = normalise(rgot, wire)
            tag = "%s/%s" % (case, qid)
            if args.show:
                print("=== %s: %s\n%s" % (tag, line, ref))
            if same(ref, got):
                print("ok   %s: %s" % (tag, line))
            elif tag in known:
                print("known %s (listed in dns-compat.md): %s" % (tag, line))
            else:
                failures += 1
                print("DIFF %s: %s\n--- dnsmasq\n%s\n--- zt\n%s" % (tag, line, ref, got))
        return len(queries), failures
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zt", required=True)
    ap.add_argument("--dnsmasq", default="/usr/sbin/dnsmasq")
    ap.add_argument("--compat")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--show", action="store_true", help="print dnsmasq's answer to every query")
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    known = known_differences(args.compat)
    workdir = tempfile.mkdtemp(prefix="zt-dns-diff.")
    total = failed = 0
    try:
        for case in args.cases:
            n, f = run_case(args, case, known, workdir)
            total += n
            failed += f
    finally:
        if not args.keep and failed == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("files kept in %s" % workdir)
    print("%d queries, %d differences" % (total, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
