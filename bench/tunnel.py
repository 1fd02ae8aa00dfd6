"""tunnel.py: zt's data path (zt access tcp -> zt edge -> zt tunnel run) against the tunnels it
replaces, all carrying the same traffic to the same local servers on loopback: no tunnel at all,
stunnel with one TLS hop, stunnel with two TLS hops through a relay (the cryptographic work of
zt's path), and ssh -L through a local sshd.

Each round runs every load through every path, one after the other (the order rotates between
rounds); the tables show the median of the rounds. Loads: bulk throughput with 1 and with 8
streams (iperf3), a 64-byte request/response round trip on one connection (p50, p99), the time to
open a new connection through the path and exchange one 64-byte round trip (one at a time, and
64 in parallel), and the CPU the path's processes spend per GiB moved and per round trip.
"""
import getpass
import json
import os
import re
import select
import shutil
import subprocess
import time

import benchlib
import ztnet
from benchlib import BenchError

NAME = "tunnel"
DESCRIPTION = ("zt access -> edge -> tunnel run against no tunnel, stunnel (1 and 2 TLS hops) "
               "and ssh -L: throughput, round trip, connection time, CPU per GiB")

PEERS = ("zt", "stunnel2", "stunnel1", "ssh", "direct")
LABELS = {"zt": "zt", "stunnel2": "stunnel x2", "stunnel1": "stunnel", "ssh": "ssh -L",
          "direct": "direct"}
LOADS = ("bulk1", "bulk8", "rtt", "conn1", "conn64")

# iperf3 seconds, round-trip seconds, sequential connections, connections 64 at a time
FULL = (10, 5.0, 500, 640)
QUICK = (1, 0.3, 100, 192)
PARALLEL = 64
SIZE = 64

# zt refuses a client session more than a burst of 1000 stream opens and then 200 a second
# (doc/protocol.md, "Limits"): GOAWAY ENHANCE_YOUR_CALM ends the session and every stream on it.
# The connection loads stay inside that budget; see ZtBudget.
ZT_OPEN_BURST = 1000
ZT_OPEN_RATE = 200

# TLS as zt negotiates it (openssl s_client against the edge: TLSv1.3, TLS_AES_256_GCM_SHA384,
# ECDSA P-256 certificate, X25519): stunnel is given the same.
TLS_SUITE = "TLS_AES_256_GCM_SHA384"
SSH_CIPHER = "aes256-gcm@openssh.com"   # the same AEAD for ssh (its default is chacha20)

STUNNEL_GLOBAL = """\
foreground = yes
pid =
syslog = no
debug = 3
"""

STUNNEL_SERVICE = """
[{name}]
client = {client}
accept = 127.0.0.1:{accept}
connect = 127.0.0.1:{connect}
sslVersionMin = TLSv1.3
ciphersuites = {suite}
"""

SSHD_CONFIG = """\
ListenAddress 127.0.0.1:{port}
HostKey {dir}/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile {dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding local
PermitOpen 127.0.0.1:{echo} 127.0.0.1:{iperf}
X11Forwarding no
PermitTTY no
Ciphers {cipher}
LogLevel ERROR
"""


def add_arguments(ap):
    g = ap.add_argument_group("tunnel")
    g.add_argument("--peers", default=",".join(PEERS), metavar="LIST",
                   help="the paths to measure, zt and at least one other (default: %(default)s)")
    g.add_argument("--rtt-seconds", type=float,
                   help="seconds of the round-trip load (default 5, --quick 0.3)")
    g.add_argument("--connections", type=int,
                   help="connections of the sequential connection load (default 500, --quick "
                   "100); the parallel load opens 64 at a time, about 1.28 times as many "
                   "(--quick 192)")


class ZtBudget:
    """zt's token bucket for stream opens, as the edge and the connector keep it per session: the
    harness waits before a zt load until the bucket holds what the load takes."""

    def __init__(self):
        self.tokens = float(ZT_OPEN_BURST)
        self.t = time.monotonic()

    def _refill(self):
        now = time.monotonic()
        self.tokens = min(ZT_OPEN_BURST, self.tokens + (now - self.t) * ZT_OPEN_RATE * 0.95)
        self.t = now

    def take(self, n):
        """Waits until n opens (plus a margin) fit; returns the seconds waited."""
        self._refill()
        need = min(n + 20, ZT_OPEN_BURST)
        waited = 0.0
        if self.tokens < need:
            waited = (need - self.tokens) / (ZT_OPEN_RATE * 0.95)
            time.sleep(waited)
            self._refill()
        self.tokens -= n
        return waited


def parse_kv(line):
    out = {}
    for part in line.split():
        if "=" in part:
            k, v = part.split("=", 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def build_tcpbench(session):
    exe = session.path("tcpbench")
    if os.path.exists(exe):
        return exe
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcpbench.c")
    r = subprocess.run(["cc", "-O2", "-o", exe, src], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError("cannot build %s:\n%s" % (src, r.stderr.strip()))
    return exe


def start_echo(session, tcpbench, nports=1, name="echo"):
    """Starts `tcpbench echo`; returns (process, [ports])."""
    p = session.start(name, [tcpbench, "echo", str(nports)], stdout=subprocess.PIPE)
    ready, _, _ = select.select([p.stdout], [], [], 5)
    line = p.stdout.readline() if ready else b""
    ports = [int(x) for x in line.split()] if line.strip() else []
    if len(ports) != nports:
        raise BenchError("the echo server did not start: %s" % session.log_tail(name))
    return p, ports


def make_certs(session):
    """A P-256 CA and a P-256 leaf for 127.0.0.1 signed by it, as `zt edge init` makes them."""
    d = session.path("pki")
    os.makedirs(d, exist_ok=True)

    def ossl(*args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=d)
        if r.returncode != 0:
            raise BenchError("openssl %s: %s" % (args[0], r.stderr.strip()[-300:]))
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench CA",
         "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    os.chmod(os.path.join(d, "server.key"), 0o600)
    return {"ca": os.path.join(d, "ca.crt"), "cert": os.path.join(d, "server.crt"),
            "key": os.path.join(d, "server.key")}


class Bench:
    """One run of the tunnel comparison."""

    def __init__(self, session, args, top, zt):
        self.s = session
        self.args = args
        self.top = top
        self.zt = zt
        iperf, rtt, conn1, conn64 = QUICK if args.quick else FULL
        self.iperf_seconds = int(round(args.seconds)) if args.seconds else iperf
        self.iperf_seconds = max(1, self.iperf_seconds)
        self.rtt_seconds = args.rtt_seconds or rtt
        self.conn1 = args.connections or conn1
        self.conn64 = int(round(self.conn1 * conn64 / conn1)) if args.connections else conn64
        self.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
        bad = [p for p in self.peers if p not in PEERS]
        if bad or "zt" not in self.peers or len(self.peers) < 2:
            raise BenchError("--peers: give zt and at least one of %s" % ", ".join(PEERS[1:]))
        self.peers = [p for p in PEERS if p in self.peers]     # zt first, the table's order
        self.paths = {}             # peer -> {"echo": port, "iperf": port, "procs": [Popen]}
        self.budget = ZtBudget()
        self.made_run_sshd = False
        self.iperf_runs = 0         # tests iperf3 -s has run (it listens anew after each)

    # --- set-up -----------------------------------------------------------------------------

    def check_tools(self):
        need = ["cc", "iperf3", "openssl"]
        if any(p.startswith("stunnel") for p in self.peers):
            need.append("stunnel4")
        if "ssh" in self.peers:
            need += ["ssh", "ssh-keygen"]
        missing = [t for t in need if shutil.which(t) is None]
        if "ssh" in self.peers and not os.access("/usr/sbin/sshd", os.X_OK):
            missing.append("/usr/sbin/sshd")
        if not os.access(self.zt, os.X_OK):
            raise BenchError("missing: %s (run make first, or set ZT)" % self.zt)
        if os.path.basename(self.zt) != "zt":
            raise BenchError("%s: the binary must be called zt (it dispatches on its name)"
                             % self.zt)
        if missing:
            raise benchlib.BenchSkip("missing: %s (apt-get install iperf3 stunnel4 "
                                     "openssh-server openssh-client gcc openssl)"
                                     % ", ".join(missing))

    def start_origins(self):
        self.tcpbench = build_tcpbench(self.s)
        self.echo, (self.echo_port,) = start_echo(self.s, self.tcpbench)
        self.iperf_port = benchlib.free_port()
        self.iperf = self.s.start("iperf3-server", [
            "iperf3", "-s", "-B", "127.0.0.1", "-p", str(self.iperf_port), "--forceflush"])
        deadline = time.monotonic() + 10
        while "listening" not in self.s.log_tail("iperf3-server"):
            if self.iperf.poll() is not None or time.monotonic() > deadline:
                raise BenchError("iperf3 -s did not start: %s" % self.s.log_tail("iperf3-server"))
            time.sleep(0.05)

    def stunnel(self, name, services):
        """Starts stunnel with the given services: (name, client, accept, connect)."""
        conf = self.s.path(name + ".conf")
        text = STUNNEL_GLOBAL
        for svc, client, accept, connect in services:
            text += STUNNEL_SERVICE.format(name=svc, client="yes" if client else "no",
                                           accept=accept, connect=connect, suite=TLS_SUITE)
            if client:
                text += ("CAfile = %s\nverifyChain = yes\ncheckIP = 127.0.0.1\n"
                         % self.pki["ca"])
            else:
                text += "cert = %s\nkey = %s\n" % (self.pki["cert"], self.pki["key"])
        with open(conf, "w") as f:
            f.write(text)
        p = self.s.start(name, ["stunnel4", conf])
        for _, _, accept, _ in services:
            ztnet.wait_port(accept, p, name, self.s)
        return p

    def start_stunnel(self, hops):
        ports = {t: benchlib.free_port() for t in ("echo", "iperf")}
        server = {t: benchlib.free_port() for t in ("echo", "iperf")}
        origin = {"echo": self.echo_port, "iperf": self.iperf_port}
        tag = "stunnel%d" % hops
        procs = [self.stunnel(tag + "-server", [(t, False, server[t], origin[t])
                                                for t in origin])]
        first = server
        if hops == 2:
            relay_in = {t: benchlib.free_port() for t in origin}
            relay_mid = {t: benchlib.free_port() for t in origin}
            svcs = []
            for t in origin:
                svcs.append((t + "-in", False, relay_in[t], relay_mid[t]))
                svcs.append((t + "-out", True, relay_mid[t], server[t]))
            procs.append(self.stunnel(tag + "-relay", svcs))
            first = relay_in
        procs.append(self.stunnel(tag + "-client", [(t, True, ports[t], first[t])
                                                    for t in origin]))
        return {"echo": ports["echo"], "iperf": ports["iperf"], "procs": procs}

    def start_ssh(self):
        d = self.s.path("ssh")
        os.makedirs(d, mode=0o700, exist_ok=True)
        for key in ("ssh_host_ed25519_key", "id_ed25519"):
            r = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench",
                                "-f", os.path.join(d, key)], capture_output=True, text=True)
            if r.returncode != 0:
                raise BenchError("ssh-keygen: %s" % r.stderr.strip())
        shutil.copy(os.path.join(d, "id_ed25519.pub"), os.path.join(d, "authorized_keys"))
        port = benchlib.free_port()
        with open(os.path.join(d, "ssh_host_ed25519_key.pub")) as f:
            hostkey = " ".join(f.read().split()[:2])
        with open(os.path.join(d, "known_hosts"), "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (port, hostkey))
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(SSHD_CONFIG.format(port=port, dir=d, echo=self.echo_port,
                                       iperf=self.iperf_port, cipher=SSH_CIPHER))
        if not os.path.isdir("/run/sshd"):
            # sshd's privilege separation directory (the ssh service makes it at boot).
            os.makedirs("/run/sshd", mode=0o755)
            self.made_run_sshd = True
            self.s.cleanups.append(lambda: os.rmdir("/run/sshd"))
        sshd = self.s.start("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f",
                                     os.path.join(d, "sshd_config")])
        ztnet.wait_port(port, sshd, "sshd", self.s)
        lecho, liperf = benchlib.free_port(), benchlib.free_port()
        ssh = self.s.start("ssh", [
            "ssh", "-F", "/dev/null", "-N", "-T", "-p", str(port),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=" + os.path.join(d, "known_hosts"),
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "IdentityFile=" + os.path.join(d, "id_ed25519"),
            "-o", "ExitOnForwardFailure=yes", "-o", "Ciphers=" + SSH_CIPHER,
            "-o", "Compression=no", "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-L", "127.0.0.1:%d:127.0.0.1:%d" % (lecho, self.echo_port),
            "-L", "127.0.0.1:%d:127.0.0.1:%d" % (liperf, self.iperf_port),
            "%s@127.0.0.1" % getpass.getuser()])
        ztnet.wait_port(lecho, ssh, "ssh", self.s)
        ztnet.wait_port(liperf, ssh, "ssh", self.s)
        return {"echo": lecho, "iperf": liperf, "procs": [sshd, ssh]}

    def start_zt(self):
        net = ztnet.ZtNet(self.s, self.zt, "zt", {"echo.bench.test": self.echo_port,
                                                  "iperf.bench.test": self.iperf_port})
        net.start_edge()
        net.start_connector(ha=4)
        _, pecho = net.start_sidecar("echo.bench.test")
        _, piperf = net.start_sidecar("iperf.bench.test")
        self.net = net
        self.budget.take(4)
        return {"echo": pecho, "iperf": piperf, "procs": net.processes()}

    def start_paths(self):
        if any(p.startswith("stunnel") for p in self.peers):
            self.pki = make_certs(self.s)
        for peer in self.peers:
            if peer == "direct":
                self.paths[peer] = {"echo": self.echo_port, "iperf": self.iperf_port,
                                    "procs": []}
            elif peer == "stunnel1":
                self.paths[peer] = self.start_stunnel(1)
            elif peer == "stunnel2":
                self.paths[peer] = self.start_stunnel(2)
            elif peer == "ssh":
                self.paths[peer] = self.start_ssh()
            elif peer == "zt":
                self.paths[peer] = self.start_zt()
            # Every path must carry a round trip before anything is measured.
            r = self.tcpload(peer, ["connect", str(self.paths[peer]["echo"]), "3", "1",
                                    str(SIZE)], 30)
            if r.get("ok") != 3:
                raise BenchError("%s: no round trip through the path: %r" % (peer, r))

    # --- loads --------------------------------------------------------------------------------

    def alive(self):
        for peer in self.peers:
            for p in self.paths[peer]["procs"]:
                if p.poll() is not None:
                    raise BenchError("%s: %s exited with status %s during the run: %s" % (
                        peer, p.bench_name, p.returncode, self.s.log_tail(p.bench_name)))
        for p, who in ((self.echo, "echo"), (self.iperf, "iperf3-server")):
            if p.poll() is not None:
                raise BenchError("%s exited: %s" % (who, self.s.log_tail(who)))

    def tcpload(self, peer, argv, timeout):
        if peer == "zt" and argv[0] == "connect":
            self.budget.take(int(argv[2]))
        out = self.s.path("tcpbench.out")
        status, cpu, wall = benchlib.run_child(self.s, [self.tcpbench, *argv], out, timeout)
        with open(out) as f:
            text = f.read().strip()
        os.unlink(out)
        if status != 0 or not text:
            raise BenchError("%s: tcpbench %s failed (status %d): %s" % (
                peer, " ".join(argv), status, self.s.log_tail("child", 3)))
        r = parse_kv(text.splitlines()[-1])
        r["client_cpu"] = cpu
        return r

    def iperf3_listening(self):
        """Waits until iperf3 -s listens again. Between two tests it closes its listening socket
        for a moment: a test started then would be refused, through any path. (Before commit
        c1985c4 a refused origin also crashed zt's connector.)"""
        deadline = time.monotonic() + 10
        while True:
            with open(self.s.path("iperf3-server.log"), errors="replace") as f:
                n = f.read().count("Server listening on")
            if n > self.iperf_runs:
                return
            if time.monotonic() > deadline or self.iperf.poll() is not None:
                raise BenchError("iperf3 -s does not listen again: %s"
                                 % self.s.log_tail("iperf3-server"))
            time.sleep(0.02)

    def iperf3(self, peer, streams):
        argv = ["iperf3", "-c", "127.0.0.1", "-p", str(self.paths[peer]["iperf"]), "-t",
                str(self.iperf_seconds), "-P", str(streams), "-J", "--connect-timeout", "5000"]
        out = self.s.path("iperf3.json")
        for attempt in range(40):
            if peer == "zt":
                self.budget.take(streams + 2)
            self.iperf3_listening()
            status, cpu, wall = benchlib.run_child(self.s, argv, out,
                                                   self.iperf_seconds + 60)
            try:
                with open(out) as f:
                    data = json.load(f)
            except (OSError, ValueError):
                data = {"error": "no JSON output"}
            if status == 0 and "error" not in data:
                self.iperf_runs += 1
                break
            # The server finishes the previous test a moment after its client (through a
            # tunnel, after the tunnel has passed the close on): try again.
            if "busy" not in str(data.get("error", "")) or attempt == 39:
                raise BenchError("%s: iperf3 -P %d failed: %s" % (peer, streams,
                                                                 data.get("error")))
            time.sleep(0.25)
        os.unlink(out)
        recv = data["end"]["sum_received"]
        return {"bytes": recv["bytes"], "seconds": recv["seconds"],
                "gbps": recv["bits_per_second"] / 1e9, "client_cpu": cpu,
                "retransmits": data["end"].get("sum_sent", {}).get("retransmits")}

    def measure(self, peer, load):
        roots = [p.pid for p in self.paths[peer]["procs"]]
        c0 = benchlib.tree_cpu(roots) if roots else 0.0
        s0 = benchlib.proc_cpu(self.iperf.pid)[0] + benchlib.proc_cpu(self.echo.pid)[0]
        b0, t0 = benchlib.machine_busy()
        r = {}
        if load in ("bulk1", "bulk8"):
            x = self.iperf3(peer, 1 if load == "bulk1" else 8)
            n = load[4:]
            r["bulk%s_gbps" % n] = x["gbps"]
            r["bulk%s_bytes" % n] = x["bytes"]
            r["bulk%s_retransmits" % n] = x["retransmits"]
            units = x["bytes"] / 2 ** 30
        elif load == "rtt":
            x = self.tcpload(peer, ["rtt", str(self.paths[peer]["echo"]),
                                    "%g" % self.rtt_seconds, str(SIZE)], self.rtt_seconds + 60)
            r.update({"rtt_p50_us": x["p50"], "rtt_p99_us": x["p99"], "rtt_p999_us": x["p999"],
                      "rtt_mean_us": x["mean"], "rtt_count": x["count"]})
            units = x["count"] / 1e6
        else:
            count, par = (self.conn1, 1) if load == "conn1" else (self.conn64, PARALLEL)
            x = self.tcpload(peer, ["connect", str(self.paths[peer]["echo"]), str(count),
                                    str(par), str(SIZE)], 120)
            r.update({load + "_p50_us": x["p50"], load + "_p99_us": x["p99"],
                      load + "_rate": x["rate"], load + "_failed": x["failed"]})
            units = x["ok"] / 1e6 if x["ok"] else None
        c1 = benchlib.tree_cpu(roots) if roots else 0.0
        s1 = benchlib.proc_cpu(self.iperf.pid)[0] + benchlib.proc_cpu(self.echo.pid)[0]
        b1, t1 = benchlib.machine_busy()
        cpu = c1 - c0
        r[load + "_path_cpu_s"] = cpu
        # CPU per GiB (bulk), per round trip or per connection (microseconds).
        r[load + "_cpu"] = cpu / units if units else None
        others = (b1 - b0) - cpu - (s1 - s0) - x["client_cpu"]
        r[load + "_others_pct"] = max(0.0, 100.0 * others / (t1 - t0)) if t1 > t0 else None
        # A path that waits on itself (flow control, wake-ups) leaves the machine idle while
        # it is the bottleneck: zt's first data path did, 15-30 % (doc/performance.md).
        r[load + "_idle_pct"] = max(0.0, 100.0 * (1 - (b1 - b0) / (t1 - t0))) if t1 > t0 else None
        self.alive()
        return r

    def run(self):
        self.start_origins()
        self.start_paths()
        rounds = {peer: [] for peer in self.peers}
        for rnd in range(self.args.rounds):
            k = rnd % len(self.peers)
            order = self.peers[k:] + self.peers[:k]
            recs = {peer: {"round": rnd + 1} for peer in self.peers}
            for load in LOADS:
                for peer in order:
                    r = self.measure(peer, load)
                    recs[peer].update(r)
                    if self.args.verbose:
                        print("  round %d %-6s %-8s %s" % (rnd + 1, load, peer, "  ".join(
                            "%s=%s" % (k2, benchlib.fmt(v)) for k2, v in r.items()
                            if not k2.endswith(("_bytes", "_s")))), flush=True)
            for peer in self.peers:
                rounds[peer].append(recs[peer])
        return rounds


# Tables: (title, [(key, label, decimals)]). Throughput and connections/s: higher is better.
TABLES = (
    ("bulk", "tunnel: bulk throughput, iperf3 through the path ({iperf} s per run)", (
        ("bulk1_gbps", "1 stream, Gbit/s", 2),
        ("bulk8_gbps", "8 streams, Gbit/s", 2),
        ("bulk1_cpu", "path CPU s per GiB, 1 stream", 2),
        ("bulk8_cpu", "path CPU s per GiB, 8 streams", 2),
        ("bulk1_idle_pct", "machine idle during the run, %, 1 stream", 0),
        ("bulk8_idle_pct", "machine idle during the run, %, 8 streams", 0),
    )),
    ("rtt", "tunnel: 64-byte request/response on one connection ({rtt} s)", (
        ("rtt_p50_us", "round trip p50, us", 1),
        ("rtt_p99_us", "round trip p99, us", 1),
        ("rtt_cpu", "path CPU per round trip, us", 1),
    )),
    ("connect", "tunnel: new connection + one 64-byte round trip ({conn1} one at a time, "
     "{conn64} with 64 in parallel)", (
        ("conn1_p50_us", "one at a time: p50, us", 0),
        ("conn1_p99_us", "one at a time: p99, us", 0),
        ("conn1_cpu", "one at a time: path CPU per connection, us", 0),
        ("conn64_p50_us", "64 in parallel: p50, us", 0),
        ("conn64_p99_us", "64 in parallel: p99, us", 0),
        ("conn64_rate", "64 in parallel: connections/s", 0),
    )),
)

# Issue 5's goals, against the two-hop stunnel chain: (key): (op, limit, text)
GOALS = {
    "bulk1_gbps": (">=", 1.2, "goal >= 1.2"),
    "bulk8_gbps": (">=", 1.0, "goal >= 1"),
    "conn1_p50_us": ("<=", 0.5, "goal <= 0.5"),
    "conn64_p50_us": ("<=", 0.5, "goal <= 0.5"),
    "rtt_p50_us": ("<=", 1.1, "goal <= 1.1"),
}
GOAL_PEER = "stunnel2"


def goal_met(op, limit, value):
    if value is None:
        return None
    return value >= limit if op == ">=" else value <= limit


def summarise(rounds, args, bench):
    peers = bench.peers
    others = [p for p in peers if p != "zt"]
    med = {peer: {} for peer in peers}
    keys = sorted({k for peer in peers for r in rounds[peer] for k in r if k != "round"})
    for peer in peers:
        for k in keys:
            med[peer][k] = benchlib.median([r.get(k) for r in rounds[peer]])
    result = {
        "settings": {"rounds": args.rounds, "iperf_seconds": bench.iperf_seconds,
                     "rtt_seconds": bench.rtt_seconds, "connections_sequential": bench.conn1,
                     "connections_parallel": bench.conn64, "parallel": PARALLEL, "size": SIZE,
                     "peers": peers, "tls": "TLSv1.3 " + TLS_SUITE + ", ECDSA P-256, X25519",
                     "ssh_cipher": SSH_CIPHER},
        "rounds": rounds, "median": med,
        "ratio": {p: {k: benchlib.ratio(med["zt"][k], med[p][k]) for k in keys}
                  for p in others},
        "ratio_paired": {p: {k: benchlib.median(
            [benchlib.ratio(z.get(k), o.get(k)) for z, o in zip(rounds["zt"], rounds[p])])
            for k in keys} for p in others},
        "goals": [],
    }
    fmtargs = {"iperf": bench.iperf_seconds, "rtt": "%g" % bench.rtt_seconds,
               "conn1": bench.conn1, "conn64": bench.conn64}
    for tname, title, figs in TABLES:
        rows = []
        for key, label, digits in figs:
            vals = [med[p].get(key) for p in peers]
            rs = [result["ratio"][p].get(key) for p in others]
            if key.endswith("_idle_pct"):
                rs = [None for p in others]     # a state of the machine, not a cost
            note = ""
            g = GOALS.get(key)
            if g and GOAL_PEER in others:
                rt = result["ratio"][GOAL_PEER].get(key)
                met = goal_met(g[0], g[1], rt)
                note = "%s: %s" % (g[2], "-" if met is None else "met" if met else "NOT met")
                result["goals"].append({"figure": key, "peer": GOAL_PEER,
                                        "goal": "%s %s" % g[:2], "ratio": rt, "met": met})
            rows.append((label, digits, vals, rs, note))
        notes = []
        if tname == "connect":
            for p in peers:
                bad = [int(r.get(k) or 0) for r in rounds[p] for k in ("conn1_failed",
                                                                       "conn64_failed")]
                if sum(bad):
                    notes.append("WARNING: %d connections through %s failed" % (sum(bad),
                                                                                LABELS[p]))
        if tname == "rtt":
            notes.append("goal column: zt against %s" % LABELS[GOAL_PEER])
        loads = {"bulk": ("bulk1", "bulk8"), "rtt": ("rtt",), "connect": ("conn1", "conn64")}
        busy = max([r.get(l + "_others_pct") or 0 for p in peers for r in rounds[p]
                    for l in loads[tname]] or [0])
        if busy > 10:
            notes.append("WARNING: other processes used up to %.0f%% of the machine%s"
                         % (busy, "" if args.rt else " (see --rt)"))
        benchlib.print_table(title.format(**fmtargs), notes, [LABELS[p] for p in peers], rows,
                             ratio_heads=["zt/%s" % LABELS[p] for p in others])
    return result


def run(session, args, top, zt):
    bench = Bench(session, args, top, zt)
    bench.check_tools()     # a missing tool: skipped before anything is printed
    print("tunnel: %d rounds; paths %s; iperf3 %d s per run, round trips %g s, %d connections "
          "one at a time and %d with 64 in parallel" % (
              args.rounds, ", ".join(LABELS[p] for p in bench.peers), bench.iperf_seconds,
              bench.rtt_seconds, bench.conn1, bench.conn64), flush=True)
    rounds = bench.run()
    return summarise(rounds, args, bench)
