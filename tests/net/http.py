"""http.py: raw HTTP probes and a Prometheus text format check for the metrics tests.

    http.py raw PORT KIND      send a hand-made request, print the answer's status (0: none)
    http.py slow PORT          send half a head and print after how many seconds we were cut
    http.py promcheck FILE     check a /metrics scrape against the text format 0.0.4
    http.py value FILE NAME [LABELS]   print a sample's value (0 when absent)
"""
import re
import socket
import sys
import time

RAW = {
    "garbage": b"GARBAGE\r\n\r\n",
    "bare-lf": b"GET /metrics HTTP/1.1\nHost: a\n\n",
    "post": b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    "notfound": b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n",
    "nohost": b"GET /metrics HTTP/1.1\r\n\r\n",
    "http2": b"GET /metrics HTTP/2.0\r\nHost: a\r\n\r\n",
    "longtarget": b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "bighead": b"GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n",
    "manyheaders": b"GET /metrics HTTP/1.1\r\nHost: a\r\n"
    + b"".join(b"X-%d: y\r\n" % i for i in range(80)) + b"\r\n",
    "smuggle": b"GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}


def raw(port, kind):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(RAW[kind])
    except OSError:
        pass  # the server may answer and close before it read everything
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    print(m.group(1).decode() if m else 0)


def slow(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
    t0 = time.monotonic()
    try:
        while s.recv(1024):
            pass
    except OSError:
        pass
    print("%.1f" % (time.monotonic() - t0))


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|NaN|[+-]Inf)$')


def promcheck(path):
    text = open(path).read()
    errors = []
    helps, types = {}, {}
    if not text.endswith("\n"):
        errors.append("the exposition does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in helps:
                errors.append("line %d: a second HELP for %s" % (n, name))
            helps[name] = n
        elif line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge"):
                errors.append("line %d: bad TYPE line" % n)
                continue
            types[parts[2]] = parts[3]
        elif line.startswith("#") or line == "":
            errors.append("line %d: unexpected line %r" % (n, line))
        else:
            m = SAMPLE.match(line)
            if not m:
                errors.append("line %d: not a sample: %r" % (n, line))
                continue
            name = m.group(1)
            if name not in helps or name not in types:
                errors.append("line %d: %s has no HELP or TYPE before it" % (n, name))
            if not name.startswith("zt_"):
                errors.append("line %d: %s is not prefixed zt_" % (n, name))
            if types.get(name) == "counter" and not name.endswith("_total"):
                errors.append("line %d: counter %s does not end in _total" % (n, name))
            if types.get(name) == "gauge" and name.endswith("_total"):
                errors.append("line %d: gauge %s ends in _total" % (n, name))
    if "zt_build_info" not in types:
        errors.append("no zt_build_info")
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


def value(path, name, labels=""):
    want = name + ("{" + labels + "}" if labels else "")
    for line in open(path):
        if line.startswith(want + " "):
            print(line.split(" ")[1].strip())
            return
    print(0)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "raw":
        raw(int(sys.argv[2]), sys.argv[3])
    elif cmd == "slow":
        slow(int(sys.argv[2]))
    elif cmd == "promcheck":
        promcheck(sys.argv[2])
    elif cmd == "value":
        value(*sys.argv[2:])
    else:
        sys.exit(__doc__)
