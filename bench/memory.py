"""memory.py: what zt's data path costs in memory and how far one edge scales: the RSS of the edge,
the connector (`zt tunnel run`) and the sidecar (`zt access tcp`) idle, with 1,000 and with
10,000 open idle streams (the cost per stream from the difference), after the streams closed,
and the edge's with 100 connectors' sessions (the cost per session); then the largest number of
concurrent streams one edge holds on this machine with every stream still answering.

Each round starts a fresh edge, connector and sidecar; the tables show the median of the rounds.
The streams are TCP connections to the sidecar held open by bench/tcpbench.c (`hold`), each
carried to bench/tcpbench.c's echo server; "answering" means one byte there and back on every
one of them at once.
"""
import os
import resource
import select
import shutil
import subprocess
import time

import benchlib
import tunnel
import ztnet
from benchlib import BenchError

NAME = "memory"
DESCRIPTION = ("zt edge, connector and sidecar: RSS idle, per idle stream (1,000 and 10,000) "
               "and per session (100 connectors); the most streams one edge holds")

ROLES = ("edge", "connector", "sidecar")
LEVELS = (1000, 10000)
CONNECTORS = 100
PER_SIDECAR = 1000          # the max test: streams per sidecar (within zt's burst of opens)
UNIT = 15000                # the scale test: streams per client, origin port and connector
                            # (each holds a socket per stream; ephemeral ports: 28,232)
CHECK_MS = 10000            # every stream must answer within this
HA = 4                      # the connector's connections (zt tunnel run's default)
HA_QUICK = 12               # --quick: their buckets take 10,000 opens without waiting

# The limits of zt's sessions (doc/protocol.md, "Limits"): stream opens per session, a burst of
# 1000 and then 200 a second, or GOAWAY ENHANCE_YOUR_CALM (every stream of the session lost).
OPEN_BURST = 1000
OPEN_RATE = 200

GOALS = {
    # key: (op, limit, text)
    "per_stream_edge": ("<=", 4.0, "goal <= 4 KiB"),
    "per_session_edge": ("<=", 64.0, "goal <= 64 KiB"),
}
GOAL_STREAMS = 10000


def add_arguments(ap):
    g = ap.add_argument_group("memory")
    g.add_argument("--max-streams", type=int, metavar="N",
                   help="the largest number of streams the scale test tries (default 100000, "
                   "--quick 12000); 0 skips the test")
    g.add_argument("--max-step", type=int, default=5000, metavar="N",
                   help="streams added between two checks of the scale test (default "
                   "%(default)s)")
    g.add_argument("--connectors", type=int, default=CONNECTORS, metavar="N",
                   help="connectors (one session each) for the per-session figure (default "
                   "%(default)s)")


class Bucket:
    """zt's token bucket for stream opens of one or more sessions (burst, rate per second)."""

    def __init__(self, burst, rate):
        self.burst, self.rate = float(burst), float(rate) * 0.95
        self.tokens, self.t = float(burst), time.monotonic()

    def take(self, n):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens < n:
            time.sleep((n - self.tokens) / self.rate)
            self.tokens = float(n)
            self.t = time.monotonic()
        self.tokens -= n


class Hold:
    """bench/tcpbench.c `hold`: holds connections open and checks that they answer. (Started
    here, not with Session.start, which gives children /dev/null for standard input.)"""

    def __init__(self, session, tcpbench, name="hold"):
        self.s = session
        self.name = name
        log = open(session.path(name + ".log"), "ab")
        try:
            self.p = subprocess.Popen(
                [tcpbench, "hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                preexec_fn=benchlib._child_setup(session.realtime), cwd=session.dir)
        finally:
            log.close()
        self.p.bench_name = name
        session._watch(self.p)

    def cmd(self, line, timeout=600):
        """Sends one command; returns its answer as a dict."""
        self.send(line)
        return self.answer(line, timeout)

    def send(self, line):
        if self.p.poll() is not None:
            raise BenchError("tcpbench hold exited: %s" % self.s.log_tail(self.name))
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def answer(self, line, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 1)
            if r:
                out = self.p.stdout.readline()
                if not out:
                    break
                return tunnel.parse_kv(out.decode())
            if self.p.poll() is not None:
                break
        raise BenchError("tcpbench hold: no answer to \"%s\": %s" % (
            line, self.s.log_tail(self.name)))


def rss(p):
    m = benchlib.proc_memory(p.pid)
    return m


class Bench:
    def __init__(self, session, args, top, zt):
        self.s = session
        self.args = args
        self.zt = zt
        self.quick = args.quick
        if args.max_streams is None:
            # --quick: the rounds' check of 10,000 streams stands for the scale test.
            self.max_streams = 0 if args.quick else 100000
        else:
            self.max_streams = args.max_streams
        self.nconnectors = args.connectors
        self.ha = HA_QUICK if args.quick else HA
        self.round_no = 0

    def check_tools(self):
        if not os.access(self.zt, os.X_OK):
            raise BenchError("missing: %s (run make first, or set ZT)" % self.zt)
        if os.path.basename(self.zt) != "zt":
            raise BenchError("%s: the binary must be called zt (it dispatches on its name)"
                             % self.zt)
        if shutil.which("cc") is None:
            raise benchlib.BenchSkip("missing: cc (apt-get install gcc)")

    def raise_nofile(self):
        """Every stream is a socket at the client, the sidecar, the connector and the origin:
        the soft limit of open files goes up to the hard one, which children inherit. Where the
        hard limit cannot be raised (no CAP_SYS_RESOURCE), the scale test spreads the streams
        over more clients, origins and connectors (see unit)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max(LEVELS[-1], self.max_streams) + 20000
        try:
            with open("/proc/sys/fs/nr_open") as f:
                want = min(want, int(f.read()))
        except (OSError, ValueError):
            pass
        if hard < want:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
                soft = hard = want
            except (ValueError, OSError):
                pass
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < LEVELS[-1] + 1000:
            raise BenchError("the limit of open files (%d) is below the %d streams the test "
                             "holds: raise it (ulimit -n) as root" % (hard, LEVELS[-1]))
        # Streams per client, origin and connector process in the scale test.
        self.unit = min(UNIT, (hard - 2000) // PER_SIDECAR * PER_SIDECAR)
        self.nofile = hard

    def open_streams(self, hold, port, n, paced):
        """Opens n streams through the sidecar at port; paced: at most 190 a second after the
        sidecar's burst (one sidecar must not exceed zt's open rate)."""
        rate = 0 if not paced else OPEN_RATE * 0.95
        r = hold.cmd("open %d %d 64 %g" % (port, n, rate), timeout=n / 100 + 120)
        if r.get("failed"):
            raise BenchError("%d of %d streams could not be opened through the sidecar" % (
                int(r["failed"]), n))
        return r

    def check(self, hold, who):
        r = hold.cmd("check %d" % CHECK_MS, timeout=CHECK_MS / 1000 + 60)
        if r.get("answered") != r.get("held"):
            raise BenchError("%s: only %d of %d streams answered within %d ms" % (
                who, int(r.get("answered") or 0), int(r.get("held") or 0), CHECK_MS))
        return r

    def sample(self, net, rec, tag, sidecar=None):
        time.sleep(0.1 if self.quick else 0.5)     # let the event loops settle
        m = {"edge": rss(net.edge), "connector": rss(net.connectors[0]),
             "sidecar": rss(sidecar or net.sidecars[0])}
        for role in ROLES:
            rec["%s_%s" % (tag, role)] = m[role]["rss"]
            rec["%s_%s_anon" % (tag, role)] = m[role]["anon"]

    def one_round(self):
        """A fresh edge, connector and sidecar: RSS idle, with 1,000 and 10,000 idle streams,
        after they closed, and the edge's with N more connectors' sessions."""
        self.round_no += 1
        rec = {"round": self.round_no}
        name = "zt%d" % self.round_no
        net = ztnet.ZtNet(self.s, self.zt, name, {"echo.bench.test": self.echo_ports[0]},
                          edge_extra={"max_streams_client": max(LEVELS) + 1000})
        net.start_edge()
        net.start_connector(ha=self.ha)
        net.start_sidecar("echo.bench.test")
        side = net.sidecars[0]
        # The connector's sessions: each accepts OPENs from the edge within zt's bucket too.
        conn_bucket = Bucket(OPEN_BURST * self.ha, OPEN_RATE * self.ha)
        hold = Hold(self.s, self.tcpbench, "hold%d" % self.round_no)
        # One stream through, and closed: what every process has touched once it has carried
        # a stream is "idle".
        r = hold.cmd("open %d 1 1 0" % side.port)
        if r.get("ok") != 1:
            raise BenchError("no stream through zt: %s" % net.s.log_tail(side.bench_name))
        hold.cmd("close")
        self.sample(net, rec, "idle")
        t0 = time.monotonic()
        opened = 0
        for level in LEVELS:
            add = level - opened
            if self.quick and opened > 0:
                # Through more sidecars (1,000 streams each, within their burst): one would
                # take 200 opens a second.
                for i in range(add // PER_SIDECAR):
                    _, port = net.start_sidecar("echo.bench.test")
                    conn_bucket.take(PER_SIDECAR)
                    self.open_streams(hold, port, PER_SIDECAR, False)
            else:
                conn_bucket.take(min(add, OPEN_BURST))
                self.open_streams(hold, side.port, add, paced=opened > 0)
            opened = level
            c = self.check(hold, "%d streams" % level)
            rec["check_%d_p99_ms" % level] = c["p99"] / 1000
            rec["check_%d_max_ms" % level] = c["max"] / 1000
            self.sample(net, rec, "s%d" % level)
            net.alive()
        rec["open_seconds"] = time.monotonic() - t0
        hold.cmd("close")
        self.s.stop(hold.p)
        time.sleep(0.3 if self.quick else 1.0)
        self.sample(net, rec, "closed")
        net.stop()
        # The per-session figure, on an edge of its own (one that carried streams keeps their
        # freed memory for new sessions): RSS with no session, then with N connectors.
        snet = ztnet.ZtNet(self.s, self.zt, name + "s", {"echo.bench.test": self.echo_ports[0]})
        snet.start_edge()
        time.sleep(0.2 if self.quick else 0.5)
        e0 = rss(snet.edge)
        extra = [snet.start_connector(ha=1, wait=False) for _ in range(self.nconnectors)]
        for p in extra:
            snet.wait_connector(p, timeout=60)
        time.sleep(0.2 if self.quick else 0.5)
        e1 = rss(snet.edge)
        snet.stop()
        rec["sessions_before_edge"] = e0["rss"]
        rec["sessions_edge"] = e1["rss"]
        rec["sessions_edge_anon"] = e1["anon"]
        rec["per_session_edge"] = (e1["rss"] - e0["rss"]) / self.nconnectors
        rec["per_session_edge_anon"] = (e1["anon"] - e0["anon"]) / self.nconnectors
        span = LEVELS[1] - LEVELS[0]
        for role in ROLES:
            if self.quick and role == "sidecar":
                # The 9,000 more streams went through other sidecars: this one holds 1,000.
                rec["per_stream_sidecar"] = (rec["s1000_sidecar"] - rec["idle_sidecar"]) / 1000
                rec["per_stream_sidecar_anon"] = (rec["s1000_sidecar_anon"] -
                                                  rec["idle_sidecar_anon"]) / 1000
                rec["s10000_sidecar"] = rec["s10000_sidecar_anon"] = None
                continue
            rec["per_stream_" + role] = (rec["s10000_" + role] - rec["s1000_" + role]) / span
            rec["per_stream_%s_anon" % role] = (rec["s10000_%s_anon" % role] -
                                                rec["s1000_%s_anon" % role]) / span
        net.stop()
        return rec

    def scale(self):
        """Adds streams (1,000 per sidecar) until one does not answer, a sidecar cannot open them,
        or max_streams; returns the steps and the best. Every `unit` streams get their own
        client, origin (an app of their own) and connector (16 connections): those hold a socket
        per stream, the edge none."""
        steps = []
        if self.max_streams <= 0:
            return steps, None
        nunits = -(-self.max_streams // self.unit)
        echoes = [tunnel.start_echo(self.s, self.tcpbench, 1, "echomax%d" % i)
                  for i in range(nunits)]
        apps = {"app%d.bench.test" % i: echoes[i][1][0] for i in range(nunits)}
        net = ztnet.ZtNet(self.s, self.zt, "ztmax", apps,
                          edge_extra={"max_streams_client": PER_SIDECAR + 24})
        net.start_edge()
        holds, buckets = [], []
        held, best, why = 0, 0, None
        step = max(PER_SIDECAR, self.args.max_step // PER_SIDECAR * PER_SIDECAR)
        t0 = time.monotonic()
        try:
            while held < self.max_streams and why is None:
                target = min(self.max_streams, held + step)
                while held < target and why is None:
                    u = held // self.unit
                    if u >= len(holds):
                        net.start_connector(ha=16)
                        holds.append(Hold(self.s, self.tcpbench, "holdmax%d" % u))
                        buckets.append(Bucket(OPEN_BURST * 16, OPEN_RATE * 16))
                    n = min(PER_SIDECAR, target - held, (u + 1) * self.unit - held)
                    _, port = net.start_sidecar("app%d.bench.test" % u)
                    # The edge picks the connection with the fewest streams: the new
                    # connector's 16 take the new streams, within their buckets.
                    buckets[u].take(n)
                    r = holds[u].cmd("open %d %d 64 0" % (port, n), timeout=300)
                    held += int(r.get("ok") or 0)
                    if r.get("failed"):
                        why = "%d streams could not be opened" % int(r["failed"])
                if why is None or held > best:
                    answered, dead, p99, worst = 0, 0, 0.0, 0.0
                    # Every stream at once: all the clients are asked before any answer is read.
                    for h in holds:
                        h.send("check %d" % CHECK_MS)
                    for h in holds:
                        c = h.answer("check", timeout=CHECK_MS / 1000 + 120)
                        answered += int(c.get("answered") or 0)
                        dead += int(c.get("dead") or 0)     # closed or reset: not just slow
                        p99 = max(p99, c["p99"] / 1000)
                        worst = max(worst, c["max"] / 1000)
                    m = benchlib.proc_memory(net.edge.pid)
                    steps.append({"streams": held, "answered": answered, "dead": dead,
                                  "check_p99_ms": p99,
                                  "check_max_ms": worst, "edge_rss": m["rss"],
                                  "edge_anon": m["anon"], "connectors": len(holds),
                                  "sidecars": len(net.sidecars),
                                  "seconds": round(time.monotonic() - t0, 1)})
                    if self.args.verbose:
                        print("  scale: %d streams, %d answered, p99 %.1f ms, edge RSS %d KiB"
                              % (held, answered, p99, m["rss"]), flush=True)
                    if answered == held:
                        best = held
                    elif why is None:
                        why = "%d of %d streams answered within %d ms (%d closed)" % (
                            answered, held, CHECK_MS, dead)
                net.alive()
        except BenchError as e:
            why = str(e)
        finally:
            for h in holds:
                try:
                    h.cmd("close", timeout=60)
                except BenchError:
                    pass
                self.s.stop(h.p)
            net.stop()
            for p, _ in echoes:
                self.s.stop(p)
        if why is None:
            why = "the most tried (--max-streams %d)" % self.max_streams
        return steps, {"streams": best, "limit": why}

    def run(self):
        self.raise_nofile()
        self.tcpbench = tunnel.build_tcpbench(self.s)
        self.echo, self.echo_ports = tunnel.start_echo(self.s, self.tcpbench, 1)
        rounds = []
        for rnd in range(self.args.rounds):
            r = self.one_round()
            rounds.append(r)
            if self.args.verbose:
                print("  round %d: idle %s; 10k streams %s; per stream %s KiB; per session "
                      "%.1f KiB; %.0f s to open" % (
                          rnd + 1, "/".join(str(r["idle_" + x]) for x in ROLES),
                          "/".join(str(r["s10000_" + x]) for x in ROLES),
                          "/".join("%.2f" % r["per_stream_" + x] for x in ROLES),
                          r["per_session_edge"], r["open_seconds"]), flush=True)
        steps, best = self.scale()
        return rounds, steps, best


ROWS = (
    # (label, key prefix, decimals)
    ("RSS idle (one stream carried and closed), KiB", "idle_%s", 0),
    ("RSS with 1,000 idle streams, KiB", "s1000_%s", 0),
    ("RSS with 10,000 idle streams, KiB", "s10000_%s", 0),
    ("per idle stream (10,000 - 1,000), KiB", "per_stream_%s", 2),
    ("  of which anonymous (heap), KiB", "per_stream_%s_anon", 2),
    ("RSS after the streams closed, KiB", "closed_%s", 0),
)


def goal_met(op, limit, value):
    if value is None:
        return None
    return value >= limit if op == ">=" else value <= limit


def summarise(rounds, steps, best, args, bench):
    keys = sorted({k for r in rounds for k in r if k != "round"})
    med = {k: benchlib.median([r.get(k) for r in rounds]) for k in keys}
    result = {"settings": {"rounds": args.rounds, "levels": LEVELS,
                           "connectors": bench.nconnectors, "max_streams": bench.max_streams,
                           "quick": bench.quick, "check_ms": CHECK_MS,
                           "streams_per_sidecar_in_scale_test": PER_SIDECAR},
              "rounds": rounds, "median": med, "scale": {"steps": steps, "best": best},
              "goals": []}
    rows = []
    for label, key, digits in ROWS:
        vals = [med.get(key % role) for role in ROLES]
        note = ""
        g = GOALS.get(key % "edge")
        if g:
            met = goal_met(g[0], g[1], vals[0])
            note = "edge: %s: %s" % (g[2], "-" if met is None else "met" if met else "NOT met")
            result["goals"].append({"figure": key % "edge", "goal": "%s %s" % g[:2],
                                    "value": vals[0], "met": met})
        rows.append((label, digits, vals, [], note))
    g = GOALS["per_session_edge"]
    v = med.get("per_session_edge")
    met = goal_met(g[0], g[1], v)
    rows.append(("edge RSS without sessions, KiB", 0, [med.get("sessions_before_edge"), None,
                                                        None], [], ""))
    rows.append(("edge RSS with %d connectors (a session each), KiB" % bench.nconnectors, 0,
                 [med.get("sessions_edge"), None, None], [], ""))
    rows.append(("edge per connector session, KiB", 1, [v, None, None], [],
                 "%s: %s" % (g[2], "-" if met is None else "met" if met else "NOT met")))
    result["goals"].append({"figure": "per_session_edge", "goal": "%s %s" % g[:2], "value": v,
                            "met": met})
    rows.append(("check of 10,000 streams: p99, ms", 1,
                 [med.get("check_10000_p99_ms"), None, None], [], ""))
    notes = ["each round: a fresh edge, connector (%d connections) and sidecar; streams are idle "
             "TCP connections through the sidecar to an echo server" % bench.ha]
    if bench.quick:
        notes.append("--quick: the 9,000 more streams come through 9 more sidecars (one opens "
                     "200 a second after a burst of 1,000); sidecar per stream: idle to 1,000; "
                     "the connector has %d connections (%d in a full run)" % (bench.ha, HA))
    benchlib.print_table("memory: zt's processes with idle streams (median of %d rounds)"
                         % args.rounds, notes, list(ROLES), rows, ratio_heads=[])
    # The scale test.
    srows = []
    for st in steps:
        srows.append(("%d streams" % st["streams"], 0,
                      [st["answered"], st["check_p99_ms"], st["edge_rss"], st["connectors"]],
                      [], ""))
    if best is not None:
        met = best["streams"] >= GOAL_STREAMS
        srows.append(("most streams, every one answering", 0, [best["streams"], None, None, None],
                      [], "goal >= %d: %s" % (GOAL_STREAMS, "met" if met else "NOT met")))
        result["goals"].append({"figure": "max_streams", "goal": ">= %d" % GOAL_STREAMS,
                                "value": best["streams"], "met": met})
        benchlib.print_table(
            "memory: streams through one edge (%d per sidecar; a client, an origin and a "
            "connector per %d; stopped by: %s)" % (PER_SIDECAR, bench.unit, best["limit"]), [],
            ["answered", "p99 ms (worst client)", "edge RSS KiB", "connectors"], srows,
            ratio_heads=[])
    elif rounds and all(r.get("check_10000_p99_ms") is not None for r in rounds):
        # No scale test (--quick, --max-streams 0): every round's edge held 10,000 streams and
        # each of them answered (a round that fails its check stops the comparison).
        result["scale"]["best"] = {"streams": LEVELS[-1], "limit": "not searched (no scale "
                                   "test): the rounds' check of %d streams" % LEVELS[-1]}
        result["goals"].append({"figure": "max_streams", "goal": ">= %d" % GOAL_STREAMS,
                                "value": LEVELS[-1], "met": LEVELS[-1] >= GOAL_STREAMS,
                                "note": "at least; no scale test"})
        print("\nmemory: %s streams through one edge, every one answering within %d ms, in "
              "every round (no scale test with --quick or --max-streams 0): goal >= %s: met"
              % ("{:,}".format(LEVELS[-1]), CHECK_MS, "{:,}".format(GOAL_STREAMS)))
    return result


def run(session, args, top, zt):
    bench = Bench(session, args, top, zt)
    bench.check_tools()     # a missing tool: skipped before anything is printed
    print("memory: %d rounds; idle, %s idle streams, %d connectors; %s" % (
        args.rounds, " and ".join("{:,}".format(x) for x in LEVELS), bench.nconnectors,
        "then up to %d streams through one edge" % bench.max_streams if bench.max_streams
        else "no scale test"), flush=True)
    rounds, steps, best = bench.run()
    return summarise(rounds, steps, best, args, bench)
