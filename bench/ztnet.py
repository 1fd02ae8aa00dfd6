"""ztnet.py: a zt network on loopback for the tunnel and memory comparisons: one edge, its apps,
one tunnel with its connector(s), a service token and `zt access tcp` sidecars, all configured
in the session's temporary directory with ports of 127.0.0.1.

    net = ZtNet(session, zt, "zt", {"echo.bench.test": 5001}, edge_extra={...})
    net.start_edge(); net.start_connector(); port = net.start_sidecar("echo.bench.test")
"""
import os
import re
import socket
import subprocess
import time

import benchlib
from benchlib import BenchError

TUNNEL = "bench"
TOKEN = "bench"


def wait_port(port, proc=None, who="", session=None, timeout=15.0):
    """Waits until 127.0.0.1:port accepts a connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError("%s exited with status %s: %s" % (
                who, proc.returncode, session.log_tail(who) if session else ""))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError("%s does not listen on 127.0.0.1:%d after %g s" % (who, port, timeout))


class ZtNet:
    """An edge with one app per origin (hostname -> 127.0.0.1 port), one tunnel serving them all
    and one service token allowed to reach them."""

    def __init__(self, session, zt, name, apps, edge_extra=None, wrap=None):
        self.s = session
        # wrap: {"edge"|"connector"|"sidecar": [argv prefix]}, e.g. valgrind, for experiments
        self.wrap = wrap or {}
        self.zt = zt
        self.name = name
        self.apps = dict(apps)
        self.dir = session.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.edge_dir = os.path.join(self.dir, "edge")
        self.edge_port = benchlib.free_port()
        self.edge = None
        self.connectors = []
        self.sidecars = []
        self.nconn = 0
        self._init(edge_extra or {})

    def _zt(self, *args):
        r = subprocess.run([self.zt, *args], capture_output=True, text=True, timeout=60,
                           cwd=self.dir)
        if r.returncode != 0:
            raise BenchError("zt %s failed (status %d): %s" % (
                " ".join(args[:3]), r.returncode, (r.stderr or r.stdout).strip()[-500:]))
        return r.stdout

    def _init(self, edge_extra):
        out = self._zt("edge", "init", self.edge_dir, "--name", "edge.test", "--name",
                       "127.0.0.1", "--listen", "127.0.0.1:%d" % self.edge_port)
        m = re.search(r"(sha256//\S+)", out)
        if not m:
            raise BenchError("zt edge init printed no CA pin: %s" % out.strip()[-300:])
        self.pin = m.group(1)
        ini = os.path.join(self.edge_dir, "edge.ini")
        with open(ini) as f:
            text = f.read()
        extra = ["public = 127.0.0.1:%d" % self.edge_port,
                 "audit_log = %s" % os.path.join(self.edge_dir, "audit.log")]
        extra += ["%s = %s" % kv for kv in edge_extra.items()]
        # Our keys replace the template's (audit_log is set there already).
        keys = {line.split("=")[0].strip() for line in extra}
        lines = [line for line in text.splitlines()
                 if line.split("=")[0].strip() not in keys or line.lstrip().startswith(";")]
        out_lines = []
        for line in lines:
            out_lines.append(line)
            if line.strip() == "[edge]":
                out_lines.extend(extra)
        for host in self.apps:
            out_lines += ["", "[app %s]" % host, "tunnel = %s" % TUNNEL,
                          "policy = allow token:%s" % TOKEN]
        with open(ini, "w") as f:
            f.write("\n".join(out_lines) + "\n")
        self.ini = ini
        out = self._zt("tunnel", "create", TUNNEL, "-c", ini)
        token = [line for line in out.splitlines() if line.strip()][-1].strip()
        self.token_file = os.path.join(self.dir, "tunnel.token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        out = self._zt("token", "create", TOKEN, "--state-dir", os.path.join(self.edge_dir,
                                                                              "state"))
        cid = re.search(r"Client ID:\s*(\S+)", out)
        secret = re.search(r"Client Secret:\s*([0-9a-fA-F]{64})", out)
        if not cid or not secret:
            raise BenchError("zt token create printed no Client ID and Secret")
        self.client_id = cid.group(1)
        self.secret_file = os.path.join(self.dir, "client.secret")
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret.group(1) + "\n")

    def start_edge(self):
        self.edge = self.s.start(self.name + "-edge", self.wrap.get("edge", []) + [
            self.zt, "edge", "serve", "-c", self.ini])
        wait_port(self.edge_port, self.edge, self.name + "-edge", self.s)
        return self.edge

    def start_connector(self, ha=4, wait=True):
        """Starts `zt tunnel run` with one ingress rule per app; waits until all ha
        connections are registered."""
        self.nconn += 1
        tag = "%s-connector%d" % (self.name, self.nconn)
        ini = os.path.join(self.dir, tag + ".ini")
        status = os.path.join(self.dir, tag + ".status")
        rules = ["rule = %s tcp://127.0.0.1:%d" % (h, p) for h, p in self.apps.items()]
        with open(ini, "w") as f:
            f.write("[tunnel]\ntoken_file = %s\nha_connections = %d\nstatus_file = %s\n\n"
                    "[ingress]\n%s\nrule = * http_status:404\n" % (
                        self.token_file, ha, status, "\n".join(rules)))
        p = self.s.start(tag, self.wrap.get("connector", []) + [self.zt, "tunnel", "run", "-c",
                                                                ini])
        p.status_file = status
        p.ha = ha
        self.connectors.append(p)
        if wait:
            self.wait_connector(p)
        return p

    def wait_connector(self, p, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise BenchError("%s exited with status %s: %s" % (
                    p.bench_name, p.returncode, self.s.log_tail(p.bench_name)))
            try:
                with open(p.status_file) as f:
                    m = re.search(r"^connections=(\d+)", f.read(), re.M)
                if m and int(m.group(1)) >= p.ha:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError("%s: not all %d connections registered after %g s: %s" % (
            p.bench_name, p.ha, timeout, self.s.log_tail(p.bench_name)))

    def start_sidecar(self, app, port=None):
        """Starts `zt access tcp` for app; returns (process, its local port) once it listens
        (it listens once the edge has authorised the token for the app)."""
        port = port or benchlib.free_port()
        tag = "%s-sidecar%d" % (self.name, len(self.sidecars) + 1)
        p = self.s.start(tag, self.wrap.get("sidecar", []) + [
            self.zt, "access", "tcp", "--hostname", app, "--url", "127.0.0.1:%d" % port,
            "--id", self.client_id, "--secret-file", self.secret_file,
            "--edge", "127.0.0.1:%d" % self.edge_port, "--edge-pin", self.pin])
        p.port = port
        self.sidecars.append(p)
        # Not by connecting: a connection closed before its stream is open makes the sidecar
        # use freed memory (doc/performance.md, "Defects and limits found"). Its log says when.
        deadline = time.monotonic() + 15
        while "listening on" not in self.s.log_tail(tag, 20):
            if p.poll() is not None:
                raise BenchError("%s exited with status %s: %s" % (
                    tag, p.returncode, self.s.log_tail(tag)))
            if time.monotonic() > deadline:
                raise BenchError("%s does not listen after 15 s: %s" % (tag,
                                                                        self.s.log_tail(tag)))
            time.sleep(0.05)
        return p, port

    def processes(self):
        return [p for p in [self.edge, *self.connectors, *self.sidecars] if p is not None]

    def alive(self):
        for p in self.processes():
            if p.poll() is not None:
                raise BenchError("%s exited with status %s: %s" % (
                    p.bench_name, p.returncode, self.s.log_tail(p.bench_name)))

    def stop(self):
        for p in reversed(self.processes()):
            self.s.stop(p)
        self.edge = None
        self.connectors = []
        self.sidecars = []
