#!/usr/bin/python3
"""pathcpu.py: CPU seconds per GiB of zt's data path (sidecar -> edge -> connector), robust on a
shared machine: a zt network as bench/ztnet.py builds it carries a fixed amount of bulk data
(iperf3 -n) from `zt access tcp` to an iperf3 server behind `zt tunnel run`, and the CPU time of
each of the three zt processes (/proc/PID/schedstat, nanoseconds) is read before and after.

    bench/pathcpu.py [--zt src/zt] [--gib 2] [--runs 3] [--streams 1] [--strace] [--perf SECONDS]
                     [--call-graph fp|dwarf]

Prints, per run, the seconds of CPU per GiB of each process and of the path, the wall-clock rate
(noisy: other load), and the median of the runs. --strace counts the system calls of the three
processes over one more run (strace -c -f; slows it); --perf records the edge, the connector and
the sidecar with `perf record -g` for SECONDS of bulk and prints the top of `perf report`.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import ztnet  # noqa: E402


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zt", default=os.path.join(top, "src", "zt"))
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--perf", type=float, default=0)
    ap.add_argument("--call-graph", default="fp", metavar="MODE",
                    help="perf record --call-graph MODE (fp, or dwarf to see callers in libraries "
                    "built without frame pointers, such as glibc's memmove)")
    ap.add_argument("--json", help="write the runs here")
    args = ap.parse_args()

    s = benchlib.Session()
    try:
        port = benchlib.free_port()
        iperf = s.start("iperf3-server", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port),
                                            "--forceflush"])
        net = ztnet.ZtNet(s, os.path.abspath(args.zt), "zt", {"iperf.bench.test": port})
        net.start_edge()
        net.start_connector(ha=4)
        sidecar, sport = net.start_sidecar("iperf.bench.test")
        procs = {"sidecar": sidecar.pid, "edge": net.edge.pid,
                 "connector": net.connectors[0].pid}
        nbytes = int(args.gib * (1 << 30))
        runs = []

        def listening(n):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with open(s.path("iperf3-server.log"), errors="replace") as f:
                    if f.read().count("Server listening on") >= n:
                        return
                time.sleep(0.02)
            raise SystemExit("iperf3 -s does not listen")

        def one(k, extra=()):
            listening(k + 1)
            before = {n: cpu_ns(p) for n, p in procs.items()}
            t0 = time.monotonic()
            r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(sport), "-n",
                                str(nbytes), "-P", str(args.streams), "-J"],
                               capture_output=True, text=True, timeout=600)
            wall = time.monotonic() - t0
            after = {n: cpu_ns(p) for n, p in procs.items()}
            data = json.loads(r.stdout)
            if "error" in data:
                raise SystemExit("iperf3: %s" % data["error"])
            got = data["end"]["sum_received"]["bytes"]
            gib = got / (1 << 30)
            row = {n: (after[n] - before[n]) / 1e9 / gib for n in procs}
            row["path"] = sum(row[n] for n in procs)
            row["gbps"] = data["end"]["sum_received"]["bits_per_second"] / 1e9
            row["load"] = os.getloadavg()[0]
            return row

        k = 0
        for k in range(args.runs):
            row = one(k)
            runs.append(row)
            print("run %d: path %.3f s/GiB (sidecar %.3f, edge %.3f, connector %.3f), "
                  "%.2f Gbit/s, load %.2f" % (k + 1, row["path"], row["sidecar"], row["edge"],
                                              row["connector"], row["gbps"], row["load"]),
                  flush=True)
        med = {f: benchlib.median([r[f] for r in runs]) for f in runs[0]}
        print("median: path %.3f s/GiB (sidecar %.3f, edge %.3f, connector %.3f), %.2f Gbit/s"
              % (med["path"], med["sidecar"], med["edge"], med["connector"], med["gbps"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"runs": runs, "median": med}, f, indent=1)
        n = args.runs
        if args.strace:
            listening(n + 1)
            out = s.path("strace.txt")
            st = subprocess.Popen(["strace", "-c", "-f", "-o", out] +
                                  sum([["-p", str(p)] for p in procs.values()], []))
            time.sleep(1)
            row = one(n)
            st.terminate()
            st.wait()
            n += 1
            print("strace run (slowed): %.2f Gbit/s" % row["gbps"])
            with open(out) as f:
                print(f.read())
        if args.perf:
            listening(n + 1)
            data = s.path("perf.data")
            ic = subprocess.Popen(["iperf3", "-c", "127.0.0.1", "-p", str(sport), "-t",
                                   str(args.perf + 2), "-P", str(args.streams)],
                                  stdout=subprocess.DEVNULL)
            time.sleep(1)
            subprocess.run(["perf", "record", "-q", "--call-graph", args.call_graph, "-o", data,
                            "-p",
                            ",".join(str(p) for p in procs.values()), "--", "sleep",
                            str(args.perf)], check=False)
            ic.wait()
            for sort in ("dso,sym", "comm,dso"):
                r = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                    "-g", "none", "--sort", sort, "--percent-limit", "0.7"],
                                   capture_output=True, text=True)
                print(r.stdout)
            os.rename(data, "/tmp/pathcpu-perf.data")
            print("perf data kept in /tmp/pathcpu-perf.data")
        net.alive()
    finally:
        s.close()


if __name__ == "__main__":
    main()
