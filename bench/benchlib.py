"""benchlib.py: what every comparison of bench/run shares: a session that owns the temporary
directory and every process it starts, readings from /proc, medians, the tables and the results
file."""
import ctypes
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


class BenchError(Exception):
    """A failure that ends one comparison with a message (a server that died, a bad answer)."""


class BenchSkip(BenchError):
    """A peer tool or a compiler is missing: the comparison is skipped, not failed (bench/run
    exits 77 when something was skipped and nothing failed)."""


def _child_setup(realtime):
    """What a child does before exec: die with the harness, and run real-time if asked."""
    def setup():
        # Children that outlive a killed harness would keep ports and CPU; the kernel ends them.
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass
        if realtime:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
    return setup


# The reaper outlives a harness killed with SIGKILL: servers that change credentials lose
# PR_SET_PDEATHSIG, so it stops the processes it was told about and removes the directory when
# its stdin closes without a "done" line.
REAPER = r"""
import os, shutil, signal, sys, time
pids = []
for line in sys.stdin:
    if line.strip() == "done":
        sys.exit(0)
    pids.append(int(line))
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    time.sleep(2)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


class Session:
    """A temporary directory and the processes started in it; close() stops them and removes it."""

    def __init__(self, keep=False, realtime=False):
        self.dir = tempfile.mkdtemp(prefix="zt-bench.")
        os.chmod(self.dir, 0o755)      # servers that drop privileges still read their files
        self.keep = keep
        self.realtime = realtime
        self.procs = []
        self.cleanups = []      # functions close() calls after stopping the processes
        self.reaper = subprocess.Popen([sys.executable, "-c", REAPER, self.dir],
                                       stdin=subprocess.PIPE, start_new_session=True)

    def _watch(self, p):
        self.procs.append(p)
        try:
            self.reaper.stdin.write(b"%d\n" % p.pid)
            self.reaper.stdin.flush()
        except OSError:
            pass

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, name, argv, stdout=None):
        """Starts argv with its output in NAME.log (or stdout=PIPE); returns the Popen."""
        log = open(self.path(name + ".log"), "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=log if stdout is None else stdout, stderr=log,
                                 preexec_fn=_child_setup(self.realtime), cwd=self.dir)
        finally:
            log.close()
        p.bench_name = name
        self._watch(p)
        return p

    def log_tail(self, name, lines=5):
        try:
            with open(self.path(name + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:]).strip()
        except OSError:
            return ""

    def stop(self, p):
        """Stops p: SIGTERM, then SIGKILL after three seconds."""
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def close(self):
        for p in reversed(list(self.procs)):
            self.stop(p)
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:      # a cleanup that fails must not stop the others
                print("bench: cleanup: %s" % e, file=sys.stderr)
        try:
            self.reaper.stdin.write(b"done\n")
            self.reaper.stdin.close()
        except OSError:
            pass
        self.reaper.wait()
        if self.keep:
            print("bench: kept %s" % self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_child(session, argv, stdout_path, timeout):
    """Runs argv to completion with stdout in stdout_path; returns (status, CPU seconds it used,
    wall seconds). Waits with wait4 so that its own CPU time is known exactly."""
    with open(stdout_path, "wb") as out, open(session.path("child.err"), "ab") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             preexec_fn=_child_setup(session.realtime), cwd=session.dir)
        session._watch(p)
        deadline = t0 + timeout
        try:
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid == p.pid:
                    break
                if time.monotonic() > deadline:
                    p.kill()
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                time.sleep(0.02)
        finally:
            p.returncode = 0        # reaped here; keeps Popen from waiting on a stale pid
            session.procs.remove(p)
    wall = time.monotonic() - t0
    return os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime, wall


def free_port():
    """An ephemeral loopback port free for both UDP and TCP at the time of asking."""
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
    raise BenchError("no free loopback port")


def proc_cpu(pid):
    """CPU seconds used so far by process pid: (total, user, system). The total comes from
    /proc/PID/schedstat (nanoseconds) where the kernel has it, the split from /proc/PID/stat
    (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    user, system = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            total = int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        total = user + system
    return total, user, system


def _stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def tree_pids(roots):
    """The processes in the trees under roots (the roots included), from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(d))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu(roots):
    """CPU seconds used so far by the processes under roots (every thread, living or not, and
    the children they reaped): utime + stime + cutime + cstime of /proc/PID/stat, summed over
    the trees. Clock ticks (10 ms); for multi-threaded and forking peers alike (stunnel makes a
    thread per connection, sshd a process per session)."""
    total = 0
    for pid in tree_pids(roots):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / CLK_TCK


def proc_status_kib(pid, key):
    """A "kB" field of /proc/pid/status (VmRSS, VmHWM), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def proc_memory(pid):
    """Memory of process pid in KiB: rss and hwm (/proc/PID/status), anon (its own heap and
    stacks) and private (pages no other process shares), from /proc/PID/smaps_rollup."""
    m = {"rss": proc_status_kib(pid, "VmRSS"), "hwm": proc_status_kib(pid, "VmHWM")}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            roll = {line.split(":")[0]: int(line.split()[1]) for line in f
                    if line.rstrip().endswith("kB")}
        m["anon"] = roll.get("Anonymous")
        m["private"] = roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0)
    except OSError:
        m["anon"] = m["private"] = None
    return m


def machine_busy():
    """(busy, total) CPU seconds of the whole machine since boot, for the load of others."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(sorted_values, p):
    """The nearest-rank p-th percentile of an ascending list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _first_line(argv, pattern=None):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (out.stdout + out.stderr).splitlines():
        if pattern is None or re.search(pattern, line):
            return line.strip()
    return None


def machine_info(top, zt):
    """The machine and the versions the figures depend on."""
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    zt_version = None
    try:
        zt_version = subprocess.run([zt, "--version"], capture_output=True, text=True,
                                    timeout=10).stdout.strip().splitlines()
    except OSError:
        pass
    commit = _first_line(["git", "-C", top, "rev-parse", "HEAD"])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg_at_start": load,
        "zt": zt_version,
        "dnsmasq": _first_line(["/usr/sbin/dnsmasq", "--version"], "version"),
        "dnsperf": _first_line(["dnsperf", "-h"], "Version"),
        "stunnel": _first_line(["stunnel", "-version"], r"^stunnel "),
        "iperf3": _first_line(["iperf3", "--version"], r"^iperf "),
        "openssh": _first_line(["ssh", "-V"], "OpenSSH"),
        "python": platform.python_version(),
        "commit": commit if commit and re.fullmatch(r"[0-9a-f]{40}", commit) else None,
    }


def fmt(v, digits=None):
    if v is None:
        return "-"
    if isinstance(v, int) or (digits == 0):
        return "{:,}".format(int(round(v)))
    if digits is None:
        digits = 2 if abs(v) < 100 else 0
        if digits == 0:
            return "{:,}".format(int(round(v)))
    return "%.*f" % (digits, v)


def print_table(title, notes, peers, rows, ratio_heads=None):
    """Prints one comparison table. rows: (label, digits, [value per peer], ratio, goal text).
    With ratio_heads (a list of column titles), ratio is a list of as many ratios (an empty
    list: no ratio columns); without, one column peers[0]/peers[1]."""
    if ratio_heads is None:
        ratio_heads = ["%s/%s" % (peers[0], peers[1])]
        rows = [(label, digits, values, [r], goal) for label, digits, values, r, goal in rows]
    head = ["", *peers, *ratio_heads, ""]
    body = []
    for label, digits, values, rs, goal in rows:
        body.append([label, *[fmt(v, digits) for v in values],
                     *["-" if r is None else "%.2f" % r for r in rs], goal or ""])
    widths = [max(len(str(row[i])) for row in [head] + body) for i in range(len(head))]
    print()
    print(title)
    for n in notes:
        print("  " + n)
    print("  %-*s  %s" % (widths[0], "", "  ".join(
        str(h).rjust(w) for h, w in zip(head[1:-1], widths[1:-1]))))
    for row in body:
        cells = "  ".join(str(c).rjust(w) for c, w in zip(row[1:-1], widths[1:-1]))
        print(("  %-*s  %s  %s" % (widths[0], row[0], cells, row[-1])).rstrip())


def write_results(path, data):
    """Writes data as JSON to path, atomically."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
