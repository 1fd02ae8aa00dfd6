#!/usr/bin/python3
"""probe: what a hostile or broken peer of the edge sees (tests/integration/path-refusals.sh).

usage: probe.py PORT MODE [TIMEOUT]
  garbage      3000 random bytes instead of a TLS ClientHello
  http         a plain HTTP/1.1 request
  silent-tcp   connect and send nothing
  silent-tls   complete the TLS handshake (ALPN zt/1) and send nothing
  alpn-http    offer only ALPN http/1.1 (the web side) and GET /static/zt.css
  alpn-h2      offer only ALPN h2
  alpn-other   offer only ALPN zt/2
  tls-garbage  complete the TLS handshake (ALPN zt/1), then send random bytes

Prints one line, "OUTCOME SECONDS DETAIL": OUTCOME is eof (closed by the edge), reset, alert
(a TLS alert during the handshake), open (still open after TIMEOUT, default 15 s) or error;
SECONDS counts from the moment the TCP connection was made (when the edge's handshake timer
starts).
"""
import os
import socket
import ssl
import sys
import time


def drain(sock, start, deadline):
    """Reads until EOF, a reset or the deadline; returns the outcome line."""
    got = b""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return "eof %.2f %r" % (time.monotonic() - start, got[:80])
            got += data
    except socket.timeout:
        return "open %.2f %r" % (time.monotonic() - start, got[:80])
    except ConnectionResetError:
        return "reset %.2f %r" % (time.monotonic() - start, got[:80])
    except ssl.SSLError as e:
        return "error %.2f %s" % (time.monotonic() - start, e)


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    start = time.monotonic()
    deadline = start + limit
    if mode in ("garbage", "http", "silent-tcp"):
        try:
            if mode == "garbage":
                sock.sendall(os.urandom(3000))
            elif mode == "http":
                sock.sendall(b"GET / HTTP/1.1\r\nHost: edge.test\r\nUser-Agent: probe\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError):
            print("reset %.2f" % (time.monotonic() - start))
            return
        print(drain(sock, start, deadline))
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols({"alpn-http": ["http/1.1"], "alpn-h2": ["h2"],
                            "alpn-other": ["zt/2"]}.get(mode, ["zt/1"]))
    sock.settimeout(limit)
    try:
        tls = ctx.wrap_socket(sock, server_hostname="edge.test")
    except ssl.SSLError as e:
        print("alert %.2f %s" % (time.monotonic() - start, e))
        return
    except (ConnectionResetError, socket.timeout) as e:
        print("error %.2f %r" % (time.monotonic() - start, e))
        return
    if mode == "tls-garbage":
        tls.sendall(os.urandom(200))
    elif mode == "alpn-http":
        tls.sendall(b"GET /static/zt.css HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
    print(drain(tls, start, deadline))


if __name__ == "__main__":
    main()
