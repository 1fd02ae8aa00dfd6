#!/usr/bin/python3
"""sockets: the sockets a process holds, read from /proc (tests/integration/path-outbound.sh).

usage: sockets.py PID

Prints one line per socket file descriptor: "KIND STATE LOCAL REMOTE" for TCP and UDP (IPv4 and
IPv6, from /proc/PID/net/{tcp,tcp6,udp,udp6}), "unix STATE PATH -" for Unix sockets,
"raw - - -" for raw sockets and "other - - -" for anything else (netlink, packet...).
"""
import os
import socket
import struct
import sys

TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}


def addr(hexaddr):
    """Formats /proc/net's "0100007F:1F90" as 127.0.0.1:8080 (or [::1]:8080)."""
    host, port = hexaddr.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        text = socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    else:
        words = struct.unpack(">4I", raw)
        raw = b"".join(struct.pack("<I", w) for w in words)
        text = "[" + socket.inet_ntop(socket.AF_INET6, raw) + "]"
    return "%s:%d" % (text, int(port, 16))


def table(pid, name):
    """Maps inode -> (state, local, remote) for /proc/PID/net/NAME."""
    out = {}
    try:
        with open("/proc/%s/net/%s" % (pid, name)) as f:
            next(f)
            for line in f:
                fields = line.split()
                state = fields[3]
                if name.startswith("tcp"):
                    state = TCP_STATES.get(state, state)
                elif state == "07":
                    state = "UNCONN"
                elif state == "01":
                    state = "ESTABLISHED"
                out[fields[9]] = (state, addr(fields[1]), addr(fields[2]))
    except FileNotFoundError:
        pass
    return out


def unix_table(pid):
    out = {}
    with open("/proc/%s/net/unix" % pid) as f:
        next(f)
        for line in f:
            fields = line.split()
            flags, st = int(fields[3], 16), fields[5]
            state = "LISTEN" if flags & 0x10000 else {"01": "UNCONN", "03": "CONNECTED"}.get(
                st, st)
            out[fields[6]] = (state, fields[7] if len(fields) > 7 else "-", "-")
    return out


def main():
    pid = sys.argv[1]
    tables = {}
    for kind in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        for inode, entry in table(pid, kind).items():
            tables[inode] = (kind.rstrip("6"),) + entry
    for inode, entry in unix_table(pid).items():
        tables[inode] = ("unix",) + entry
    for fd in sorted(os.listdir("/proc/%s/fd" % pid), key=int):
        try:
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except FileNotFoundError:
            continue
        if not target.startswith("socket:["):
            continue
        inode = target[len("socket:["):-1]
        kind, state, local, remote = tables.get(inode, ("other", "-", "-", "-"))
        print("%s %s %s %s" % (kind, state, local, remote))


if __name__ == "__main__":
    main()
