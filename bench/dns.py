"""dns.py: `zt dns serve` against dnsmasq on one configuration, on loopback, for three loads: names
answered by address=, names answered from the cache, names forwarded upstream. The load at
saturation comes from bench/dnsload.c (address= and cache; --loader dnsperf for dnsperf) or
dnsperf (forwarded); the fixed-rate phase from dnsperf.

Each round runs every load against both servers, one after the other (the order alternates between
rounds); the tables show the median of the rounds. Per server and load: queries per second at
saturation, the server's CPU seconds per 100k answered queries (the figure least disturbed by
dnsperf sharing the machine), the share of a core the server used (near 100 %: the server was the
bottleneck), latency p50/p99 at saturation and at a fixed rate, and RSS after the run.
"""
import array
import json
import os
import random
import re
import select
import shutil
import socket
import struct
import subprocess
import time

import benchlib
from benchlib import BenchError

NAME = "dns"
DESCRIPTION = "zt dns serve vs dnsmasq: address= answers, cache hits, forwarding"

DNSMASQ = "/usr/sbin/dnsmasq"
PEERS = ("zt", "dnsmasq")
LOADS = ("address", "cache", "forward")
ADDRESS_NAMES = 10000       # the issue: 10,000 distinct names under one address= domain
CACHE_NAMES = 5000          # at most half the cache, so every measured query is a hit
CACHE_SIZE = 10000          # the largest dnsmasq accepts without a warning; the same for both
UPSTREAM_TTL = 86400
UPSTREAM_ADDR = "10.0.0.2"

# seconds at saturation, seconds at the fixed rate
FULL = (10.0, 3.0)
QUICK = (1.2, 0.8)

CONF = """\
# The deployed configuration (tests/dns/cases/sample.conf) plus the bench names; port= differs.
listen-address=127.0.0.1
bind-dynamic
domain-needed
bogus-priv
no-resolv
no-hosts
address=/webdevelop.internal/10.130.0.1
address=/kratos.webdevelop.internal/10.130.0.100
address=/bench.internal/10.0.0.1
server=127.0.0.1#{upstream}
cache-size={cache_size}
port={port}
"""

UPSTREAM_DNSMASQ_CONF = """\
# The upstream for the bench: every name has an A record with a long TTL.
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
cache-size=0
local-ttl={ttl}
address=/#/{addr}
port={port}
"""


def add_arguments(ap):
    g = ap.add_argument_group("dns")
    g.add_argument("--loader", choices=("dnsload", "dnsperf"), default="dnsload",
                   help="the load generator at saturation of the address= and cache loads: "
                   "bench/dnsload.c (default; batched, less CPU per query than dnsperf) or "
                   "dnsperf; the forwarded load, the fixed-rate phase and the cache warm-up use "
                   "dnsperf either way")
    g.add_argument("--dnsperf", default="-c 1 -T 1 -q 100", metavar="ARGS",
                   help="dnsperf load options at saturation (default: %(default)s)")
    g.add_argument("--dnsload", default="-c 4 -q 128", metavar="ARGS",
                   help="dnsload options at saturation (default: %(default)s): sockets, "
                   "queries in flight")
    g.add_argument("--rate", type=int, default=5000,
                   help="queries per second of the fixed-rate latency phase of the address= and "
                   "cache loads (default: %(default)s)")
    g.add_argument("--forward-rate", type=int, default=1000,
                   help="the same for the forwarded load (default: %(default)s)")
    g.add_argument("--upstream", choices=("c", "dnsmasq"), default="c",
                   help="the forwarded load's upstream: bench/upstream.c (default) or dnsmasq")
    g.add_argument("--cache-size", type=int, default=CACHE_SIZE,
                   help="cache-size= of both servers (default: %(default)s); the cache load "
                   "uses min(5000, half of it) names")
    g.add_argument("--pin", action="store_true",
                   help="pin each server to CPU 1 and dnsperf and the upstream to CPU 0")


# --- DNS on the wire: just enough to ask the servers for their counters ---

def _query_wire(name, qtype, qclass):
    qid = random.randrange(65536)
    wire = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    return qid, wire + b"\0" + struct.pack("!HH", qtype, qclass)


def _skip_name(msg, off):
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += n + 1


def query(port, name, qtype=1, qclass=1, timeout=0.5):
    """Asks 127.0.0.1:port; returns (rcode, [rdata of each answer]) or None on no reply."""
    qid, wire = _query_wire(name, qtype, qclass)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(wire, ("127.0.0.1", port))
        while True:
            msg = s.recv(4096)
            if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                break
    except (socket.timeout, ConnectionRefusedError):
        return None
    finally:
        s.close()
    try:
        rcode = msg[3] & 0x0F
        an = struct.unpack("!H", msg[6:8])[0]
        off = _skip_name(msg, 12) + 4
        rdatas = []
        for _ in range(an):
            off = _skip_name(msg, off)
            rdlen = struct.unpack("!H", msg[off + 8:off + 10])[0]
            rdatas.append(msg[off + 10:off + 10 + rdlen])
            off += 10 + rdlen
        return rcode, rdatas
    except (IndexError, struct.error):
        return None


def counter(port, name):
    """A CHAOS TXT counter of the server (hits.bind, misses.bind) as an int, or None."""
    r = query(port, name, 16, 3)
    if r is None or r[0] != 0 or not r[1] or len(r[1][0]) < 2:
        return None
    try:
        return int(r[1][0][1:1 + r[1][0][0]].decode())
    except ValueError:
        return None


def counters(port):
    return counter(port, "hits.bind"), counter(port, "misses.bind")


def diff(after, before):
    return None if after is None or before is None else after - before


# --- dnsperf ---

def parse_dnsperf(path):
    """The summary of a dnsperf -v run and its latencies in ascending order (seconds)."""
    out = {"sent": None, "completed": None, "lost": None, "run_time": None, "qps": None,
           "rcodes": ""}
    lat = array.array("d")
    keys = {"Queries sent:": "sent", "Queries completed:": "completed",
            "Queries lost:": "lost", "Run time (s):": "run_time",
            "Queries per second:": "qps"}
    with open(path, "rb") as f:
        for raw in f:
            if raw[:2] == b"> ":
                parts = raw.split()
                if len(parts) >= 5 and parts[1] != b"T":
                    try:
                        lat.append(float(parts[-1]))
                    except ValueError:
                        pass
                continue
            line = raw.decode(errors="replace").strip()
            for k, name in keys.items():
                if line.startswith(k):
                    v = line[len(k):].split()[0]
                    out[name] = float(v) if name in ("run_time", "qps") else int(v)
            if line.startswith("Response codes:"):
                out["rcodes"] = line.split(":", 1)[1].strip()
    return out, sorted(lat)


class Bench:
    """One run of the dns comparison."""

    def __init__(self, session, args, top, zt):
        self.s = session
        self.args = args
        self.top = top
        self.zt = zt
        self.seconds, self.rate_seconds = QUICK if args.quick else FULL
        if args.seconds:
            self.seconds = args.seconds
        self.dnsperf_opts = args.dnsperf.split()
        self.dnsload_opts = args.dnsload.split()
        self.dnsload_exe = None
        self.servers = {}
        self.upstream = None
        self.upstream_port = None
        self.cache_size = args.cache_size
        self.cache_names = min(CACHE_NAMES, args.cache_size // 2)
        self.fwd_guess = 50000      # forwarded queries per second; sizes the unique-name files
        self.seq = 0

    def pin(self, cpu):
        return ["taskset", "-c", str(cpu)] if self.args.pin else []

    def check_tools(self):
        if self.cache_size < 100:
            raise BenchError("--cache-size must be at least 100: the cache load needs room")
        missing = [t for t in ("dnsperf", "cc" if self.args.upstream == "c" or
                               self.args.loader == "dnsload" else None,
                               "taskset" if self.args.pin else None)
                   if t and shutil.which(t) is None]
        if not os.access(DNSMASQ, os.X_OK):
            missing.append(DNSMASQ)
        if not os.access(self.zt, os.X_OK):
            missing.append(self.zt + " (run make first, or set ZT)")
        elif os.path.basename(self.zt) != "zt":
            raise BenchError("%s: the binary must be called zt (it dispatches on its name)"
                             % self.zt)
        if any(not m.startswith(self.zt) for m in missing):
            raise benchlib.BenchSkip("missing: %s (apt-get install dnsperf dnsmasq-base gcc)"
                                     % ", ".join(missing))
        if missing:
            raise BenchError("missing: %s" % ", ".join(missing))

    def start_upstream(self):
        if self.args.upstream == "dnsmasq":
            port = benchlib.free_port()
            conf = self.s.path("upstream.conf")
            with open(conf, "w") as f:
                f.write(UPSTREAM_DNSMASQ_CONF.format(ttl=UPSTREAM_TTL, addr=UPSTREAM_ADDR,
                                                     port=port))
            self.upstream = self.s.start("upstream", self.pin(0) + [
                DNSMASQ, "-k", "--user=root", "--conf-file=" + conf,
                "--pid-file=" + self.s.path("upstream.pid")])
            self.upstream_port = port
            self.wait_ready("upstream", self.upstream, port, "x.bench.test", UPSTREAM_ADDR)
            return
        exe = self.s.path("upstream")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream.c")
        r = subprocess.run(["cc", "-O2", "-o", exe, src], capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("cannot build %s:\n%s" % (src, r.stderr.strip()))
        self.upstream = self.s.start("upstream", self.pin(0) + [
            exe, "0", str(UPSTREAM_TTL), UPSTREAM_ADDR], stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.upstream.stdout], [], [], 5)
        line = self.upstream.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            raise BenchError("the upstream did not start: %s" % self.s.log_tail("upstream"))
        self.upstream_port = int(line)
        self.wait_ready("upstream", self.upstream, self.upstream_port, "x.bench.test",
                        UPSTREAM_ADDR)

    def build_dnsload(self):
        exe = self.s.path("dnsload")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsload.c")
        r = subprocess.run(["cc", "-O2", "-o", exe, src], capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("cannot build %s:\n%s" % (src, r.stderr.strip()))
        self.dnsload_exe = exe

    def dnsload(self, port, datafile, seconds, want):
        """Runs bench/dnsload.c at saturation; returns a summary like parse_dnsperf's (with the
        percentiles in "p50"/"p99", seconds), no latency list, and its CPU seconds."""
        argv = self.pin(0) + [self.dnsload_exe, "-s", "127.0.0.1", "-p", str(port), "-d",
                              datafile, "-l", "%g" % seconds, "-t", "2", "-a", want]
        argv += self.dnsload_opts
        out = self.s.path("dnsload.out")
        status, cpu, wall = benchlib.run_child(self.s, argv, out, seconds + 30)
        try:
            with open(out) as f:
                j = json.load(f)
        except (OSError, ValueError) as e:
            raise BenchError("dnsload failed (status %d, %s): %s: %s" % (
                status, e, " ".join(argv), self.s.log_tail("child.err", 2)))
        os.unlink(out)
        if status != 0 or not j["answered"]:
            raise BenchError("dnsload got no answers from 127.0.0.1:%d (status %d)"
                             % (port, status))
        n = j["answered"]
        summary = {
            "sent": j["sent"], "completed": n, "lost": j["lost"], "run_time": j["seconds"],
            "qps": j["qps"], "process_wall": wall,
            "rcodes": ", ".join("%s %d (%.2f%%)" % (k, v, 100.0 * v / n)
                                for k, v in j["rcodes"].items()),
            "p50": j["latency_us"]["p50"] / 1e6, "p99": j["latency_us"]["p99"] / 1e6,
            "unmatched": j["unmatched"], "wrong_address": j["wrong_address"],
        }
        return summary, None, cpu

    def wait_ready(self, who, proc, port, name, want):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError("%s exited with status %s: %s" % (
                    who, proc.returncode, self.s.log_tail(who)))
            r = query(port, name, timeout=0.2)
            if r is not None:
                if r[0] == 0 and r[1] and socket.inet_ntoa(r[1][0]) == want:
                    return
                raise BenchError("%s answers %s with %r, not %s" % (who, name, r, want))
            time.sleep(0.05)
        raise BenchError("%s does not answer on 127.0.0.1:%d" % (who, port))

    def start_servers(self):
        for who in PEERS:
            port = benchlib.free_port()
            conf = self.s.path(who + ".conf")
            with open(conf, "w") as f:
                f.write(CONF.format(upstream=self.upstream_port, cache_size=self.cache_size,
                                    port=port))
            if who == "zt":
                argv = [self.zt, "dns", "serve", "-k", "--conf-file=" + conf, "--log-level=warn"]
            else:
                argv = [DNSMASQ, "-k", "--user=root", "--conf-file=" + conf,
                        "--pid-file=" + self.s.path("dnsmasq.pid")]
            p = self.s.start(who, self.pin(1) + argv)
            self.servers[who] = (p, port)
            self.wait_ready(who, p, port, "h0.bench.internal", "10.0.0.1")
            self.wait_ready(who, p, port, "probe.fwd.bench.test", UPSTREAM_ADDR)

    def write_names(self, path, fmt, count):
        with open(path, "w") as f:
            f.write("".join(fmt % i for i in range(count)))

    def alive(self):
        for who, (p, _) in self.servers.items():
            if p.poll() is not None:
                raise BenchError("%s exited with status %s during the run: %s" % (
                    who, p.returncode, self.s.log_tail(who)))
        if self.upstream.poll() is not None:
            raise BenchError("the upstream exited: %s" % self.s.log_tail("upstream"))

    def dnsperf(self, port, datafile, seconds, rate=None, once=False):
        """Runs dnsperf -v; returns its summary, the sorted latencies and its CPU seconds."""
        argv = self.pin(0) + ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", datafile,
                              "-l", "%g" % seconds, "-t", "2", "-v"]
        if rate:
            argv += ["-Q", str(rate), "-c", "1", "-q", "100"]
        else:
            argv += self.dnsperf_opts
        if once:
            argv += ["-n", "1"]
        out = self.s.path("dnsperf.out")
        status, cpu, wall = benchlib.run_child(self.s, argv, out, seconds + 30)
        if status != 0:
            raise BenchError("dnsperf failed (status %d): %s" % (
                status, " ".join(argv)))
        summary, lat = parse_dnsperf(out)
        summary["process_wall"] = wall
        os.unlink(out)
        if not summary["completed"]:
            raise BenchError("dnsperf got no answers from 127.0.0.1:%d" % port)
        return summary, lat, cpu

    def names_for(self, load, count):
        if load == "address":
            return self.s.path("address.txt"), False
        if load == "cache":
            return self.s.path("cache.txt"), False
        self.seq += 1
        path = self.s.path("forward.txt")
        self.write_names(path, "f%d-%%d.fwd.bench.test A\n" % self.seq, count)
        return path, True

    def measure(self, who, load):
        p, port = self.servers[who]
        pid = p.pid
        if load == "cache":
            # One pass puts every name in the cache; the measured phase must then be all hits.
            self.dnsperf(port, self.s.path("cache.txt"), 60, once=True)
        r = {}
        count = int(self.fwd_guess * self.seconds * 1.5)
        datafile, once = self.names_for(load, count)
        h0, m0 = counters(port)
        c0, u0 = benchlib.proc_cpu(pid), benchlib.proc_cpu(self.upstream.pid)[0]
        b0, t0 = benchlib.machine_busy()
        if self.args.loader == "dnsload" and load != "forward":
            want = "10.0.0.1" if load == "address" else UPSTREAM_ADDR
            summary, lat, perf_cpu = self.dnsload(port, datafile, self.seconds, want)
        else:
            summary, lat, perf_cpu = self.dnsperf(port, datafile, self.seconds, once=once)
        c1, u1 = benchlib.proc_cpu(pid), benchlib.proc_cpu(self.upstream.pid)[0]
        b1, t1 = benchlib.machine_busy()
        h1, m1 = counters(port)
        cpu = c1[0] - c0[0]
        user, system = c1[1] - c0[1], c1[2] - c0[2]
        wall = summary["run_time"] or self.seconds
        others = (b1 - b0) - cpu - (u1 - u0) - perf_cpu
        r.update({
            "qps": summary["qps"],
            "sent": summary["sent"],
            "completed": summary["completed"],
            "lost": summary["lost"],
            "rcodes": summary["rcodes"],
            "run_time": wall,
            "cpu_s": cpu,
            "cpu_per_100k": cpu / summary["completed"] * 1e5,
            "server_core_pct": 100.0 * cpu / wall,
            "kernel_pct": 100.0 * system / (user + system) if user + system else None,
            "loader": ("dnsload" if self.args.loader == "dnsload" and load != "forward"
                       else "dnsperf"),
            "loader_core_pct": 100.0 * perf_cpu / summary["process_wall"],
            "loader_us_per_query": perf_cpu / summary["completed"] * 1e6,
            "unmatched": summary.get("unmatched"),
            "wrong_address": summary.get("wrong_address"),
            "upstream_core_pct": 100.0 * (u1 - u0) / wall,
            "others_pct": max(0.0, 100.0 * others / (t1 - t0)),
            "p50_ms": 1000 * (benchlib.percentile(lat, 50) if lat is not None
                              else summary["p50"]),
            "p99_ms": 1000 * (benchlib.percentile(lat, 99) if lat is not None
                              else summary["p99"]),
            "hits": diff(h1, h0),
            "misses": diff(m1, m0),
        })
        if load == "forward" and summary["qps"]:
            self.fwd_guess = max(self.fwd_guess, summary["qps"])
        # Latency when the server is not saturated: the same names at a fixed rate.
        rate = self.args.forward_rate if load == "forward" else self.args.rate
        datafile, once = self.names_for(load, int(rate * self.rate_seconds * 2))
        c0 = benchlib.proc_cpu(pid)[0]
        summary, lat, _ = self.dnsperf(port, datafile, self.rate_seconds, rate=rate, once=once)
        c1 = benchlib.proc_cpu(pid)[0]
        h2, m2 = counters(port)
        r.update({
            "rate": rate,
            "rate_qps": summary["qps"],
            "rate_rcodes": summary["rcodes"],
            "rate_lost": summary["lost"],
            "rate_p50_ms": 1000 * benchlib.percentile(lat, 50),
            "rate_p99_ms": 1000 * benchlib.percentile(lat, 99),
            "rate_cpu_per_100k": (c1 - c0) / summary["completed"] * 1e5,
            "rate_misses": diff(m2, m1),
            "rss_kib": benchlib.proc_status_kib(pid, "VmRSS"),
            "hwm_kib": benchlib.proc_status_kib(pid, "VmHWM"),
        })
        self.alive()
        return r

    def run(self):
        self.check_tools()
        if self.args.loader == "dnsload":
            self.build_dnsload()
        self.start_upstream()
        self.start_servers()
        self.write_names(self.s.path("address.txt"), "h%d.bench.internal A\n", ADDRESS_NAMES)
        self.write_names(self.s.path("cache.txt"), "c%d.cache.bench.test A\n", self.cache_names)
        # A resolver's cache is never empty: the first round sees what the later ones do.
        for who in PEERS:
            self.dnsperf(self.servers[who][1], self.s.path("cache.txt"), 60, once=True)
        rounds = {load: {who: [] for who in PEERS} for load in LOADS}
        for rnd in range(self.args.rounds):
            order = PEERS if rnd % 2 == 0 else tuple(reversed(PEERS))
            for load in LOADS:
                for who in order:
                    r = self.measure(who, load)
                    r["round"] = rnd + 1
                    rounds[load][who].append(r)
                    if self.args.verbose:
                        print("  round %d %-7s %-8s %8.0f q/s  %.3f CPU s/100k  %3.0f%% core  "
                              "p99 %.2f ms  %s %.2f us/q %3.0f%% core  others %.0f%%" % (
                                  rnd + 1, load, who, r["qps"], r["cpu_per_100k"],
                                  r["server_core_pct"], r["p99_ms"], r["loader"],
                                  r["loader_us_per_query"], r["loader_core_pct"],
                                  r["others_pct"]),
                              flush=True)
        final = {who: benchlib.proc_memory(p.pid) for who, (p, _) in self.servers.items()}
        return rounds, final


FIGURES = (
    # key in a round's record, row label, decimals
    ("qps", "queries/s at saturation", 0),
    ("cpu_per_100k", "server CPU s per 100k queries", 3),
    ("server_core_pct", "server CPU, % of one core", 0),
    ("kernel_pct", "server CPU in the kernel, %", 0),
    ("p50_ms", "latency p50 at saturation, ms", 3),
    ("p99_ms", "latency p99 at saturation, ms", 3),
    ("rate_p50_ms", "latency p50 at {rate} q/s, ms", 3),
    ("rate_p99_ms", "latency p99 at {rate} q/s, ms", 3),
    ("rate_cpu_per_100k", "server CPU s per 100k at {rate} q/s", 3),
    ("rss_kib", "RSS after the load, KiB", 0),
    ("lost", "queries lost", 0),
    ("loader_core_pct", "load generator CPU, % of one core", 0),
    ("loader_us_per_query", "load generator CPU per query, us", 2),
    ("others_pct", "other processes, % of the machine", 0),
)

GOALS = {
    # (load, key): (comparison, limit, text)
    ("address", "qps"): (">=", 2.0, "goal >= 2"),
    ("cache", "qps"): (">=", 2.0, "goal >= 2"),
    ("address", "p99_ms"): ("<=", 1.0, "goal <= 1"),
    ("cache", "p99_ms"): ("<=", 1.0, "goal <= 1"),
    ("address", "rate_p99_ms"): ("<=", 1.0, "goal <= 1"),
    ("cache", "rate_p99_ms"): ("<=", 1.0, "goal <= 1"),
}

def title(load, bench):
    if load == "address":
        return ("dns: address= answers (%d names under address=/bench.internal/10.0.0.1)"
                % ADDRESS_NAMES)
    if load == "cache":
        return ("dns: cache hits (%d names from the upstream, TTL %d s, warmed before each round)"
                % (bench.cache_names, UPSTREAM_TTL))
    return ("dns: forwarded (a new name every query, upstream %s on loopback)"
            % ("dnsmasq" if bench.args.upstream == "dnsmasq" else "bench/upstream.c"))


def goal_met(op, limit, value):
    if value is None:
        return None
    return value >= limit if op == ">=" else value <= limit


def summarise(rounds, final, args, bench):
    """Medians, ratios and goals; prints the tables and returns the JSON section."""
    result = {"settings": {
        "rounds": args.rounds, "seconds": bench.seconds, "rate": args.rate,
        "rate_seconds": bench.rate_seconds, "forward_rate": args.forward_rate,
        "dnsperf": args.dnsperf, "loader": args.loader, "dnsload": args.dnsload,
        "upstream": args.upstream, "pinned": args.pin, "cache_size": bench.cache_size,
        "address_names": ADDRESS_NAMES, "cache_names": bench.cache_names,
        "config": CONF}, "loads": {}, "goals": []}
    for load in LOADS:
        med = {who: {} for who in PEERS}
        rows = []
        for key, label, digits in FIGURES:
            vals = [benchlib.median([r.get(key) for r in rounds[load][who]]) for who in PEERS]
            for who, v in zip(PEERS, vals):
                med[who][key] = v
            rt = benchlib.ratio(vals[0], vals[1])
            note = ""
            g = GOALS.get((load, key))
            if g:
                met = goal_met(g[0], g[1], rt)
                note = "%s: %s" % (g[2], "-" if met is None else "met" if met else "NOT met")
                result["goals"].append({"load": load, "figure": key, "goal": "%s %s" % g[:2],
                                        "ratio": rt, "met": met})
            if key in ("loader_core_pct", "loader_us_per_query", "others_pct", "lost",
                       "kernel_pct"):
                rt = None
            rate = args.forward_rate if load == "forward" else args.rate
            rows.append((label.format(rate=rate), digits, vals, rt, note))
        notes = []
        if load == "cache":
            for who in PEERS:
                bad = [r["round"] for r in rounds[load][who]
                       if r["misses"] is None or r["misses"] > 0 or r["rate_misses"]]
                if bad:
                    notes.append("WARNING: %s had cache misses in the measured phase of round %s"
                                 % (who, ", ".join(map(str, bad))))
            if not notes:
                notes.append("misses.bind did not move in any measured phase: all were hits")
        if load == "forward":
            for who in PEERS:
                share = [r["misses"] / r["completed"] for r in rounds[load][who]
                         if r["misses"] is not None and r["completed"]]
                if share and min(share) < 0.99:
                    notes.append("WARNING: only %.0f%% of %s's queries went upstream"
                                 % (100 * min(share), who))
        for who in PEERS:
            bad = ["round %d: %s" % (r["round"], ", ".join(
                "%d %s" % (r[k], k.replace("_", " ")) for k in ("wrong_address", "unmatched")
                if r.get(k))) for r in rounds[load][who]
                if r.get("wrong_address") or r.get("unmatched")]
            if bad:
                notes.append("WARNING: dnsload got from %s %s" % (who, "; ".join(bad)))
        if load == "cache" and bench.args.loader == "dnsload":
            # zt counts cache lookups in hits.bind, dnsmasq also its CHAOS answers: every
            # answered query is a hit, and the server cannot have answered more than were sent.
            for who in PEERS:
                off = [r["round"] for r in rounds[load][who] if r["hits"] is None or
                       not r["completed"] <= r["hits"] <= r["sent"] + 3]
                if off:
                    notes.append("WARNING: %s's hits.bind does not match dnsload's count of "
                                 "answers in round %s" % (who, ", ".join(map(str, off))))
        for who in PEERS:
            odd = sorted({r[k] for r in rounds[load][who] for k in ("rcodes", "rate_rcodes")
                          if not re.fullmatch(r"NOERROR \d+ \(100\.00%\)", r[k])})
            if odd:
                notes.append("WARNING: %s answered %s" % (who, "; ".join(odd)))
        busy = max(max(r["others_pct"] for r in rounds[load][who]) for who in PEERS)
        if busy > 10:
            notes.append("WARNING: other processes used up to %.0f%% of the machine%s"
                          % (busy, "" if args.rt else " (see --rt)"))
        benchlib.print_table(title(load, bench), notes, PEERS, rows)
        result["loads"][load] = {
            "rounds": rounds[load], "median": med,
            "ratio": {key: benchlib.ratio(med["zt"][key], med["dnsmasq"][key])
                      for key, _, _ in FIGURES},
            # The median of the ratios of each round's pair, run back to back.
            "ratio_paired": {key: benchlib.median(
                [benchlib.ratio(z.get(key), d.get(key))
                 for z, d in zip(rounds[load]["zt"], rounds[load]["dnsmasq"])])
                for key, _, _ in FIGURES},
            "notes": notes}
    # Memory: both caches are full after the forwarded load.
    rows = []
    for key, label, goal in (("rss", "RSS at the end, KiB", True),
                             ("hwm", "peak RSS (VmHWM), KiB", True),
                             ("anon", "of which anonymous (heap, stacks), KiB", False)):
        vals = [final[who].get(key) for who in PEERS]
        rt = benchlib.ratio(vals[0], vals[1])
        note = ""
        if goal:
            met = goal_met("<=", 1.0, rt)
            note = "goal <= 1: %s" % ("-" if met is None else "met" if met else "NOT met")
            result["goals"].append({"load": "memory", "figure": key, "goal": "<= 1.0",
                                    "ratio": rt, "met": met})
        rows.append((label, 0, vals, rt, note))
    benchlib.print_table("dns: memory with cache-size=%d, full after the forwarded load"
                         % bench.cache_size, [], PEERS, rows)
    result["final"] = final
    return result


def run(session, args, top, zt):
    """Runs the comparison; prints its tables and returns its JSON section."""
    bench = Bench(session, args, top, zt)
    print("dns: %d rounds; per load and server %g s at saturation (%s), then %g s at "
          "%d q/s (forwarded: %d q/s)" % (args.rounds, bench.seconds, "dnsload %s; forwarded: "
                                          "dnsperf %s" % (args.dnsload, args.dnsperf)
                                          if args.loader == "dnsload" else
                                          "dnsperf " + args.dnsperf,
                                          bench.rate_seconds, args.rate, args.forward_rate),
          flush=True)
    rounds, final = bench.run()
    return summarise(rounds, final, args, bench)
