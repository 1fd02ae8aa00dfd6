"""notify.py: a systemd notification socket for the tests (sd_notify(3)'s receiving side).

    notify.py PATH LOG     bind an AF_UNIX datagram socket at PATH (or @name) and append each
                           datagram to LOG, one line per datagram with its lines joined by "|"
"""
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
open(log, "a").close()
while True:
    data = s.recv(65536)
    with open(log, "a") as f:
        f.write(data.decode("utf-8", "replace").replace("\n", "|") + "\n")
        f.flush()
        os.fsync(f.fileno())
