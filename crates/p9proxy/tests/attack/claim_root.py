#!/usr/bin/env python3
"""A hostile 9P2000.L client, run as an unprivileged local user by tests/identity.rs.

Usage: claim_root.py tcp:HOST:PORT|unix:PATH N_UNAME

It connects, attaches claiming uid N_UNAME, and tries to become root through the export:
plant a setuid-root shell, make a block device node of the host's first disk, chown its
own file to root with setuid/setgid bits, and read a root-only file. It prints one line
per step, "step errno" (0: the server said yes); the test then inspects the host.
"""
import socket
import struct
import sys

TVERSION, TATTACH, TWALK, TLCREATE, TWRITE, TCLUNK, TSETATTR, TMKNOD, TLOPEN, TREAD = (
    100, 104, 110, 14, 118, 120, 26, 18, 12, 116)
RLERROR = 7
NOFID = 0xFFFFFFFF


def s(b):
    return struct.pack("<H", len(b)) + b


class Client:
    def __init__(self, addr):
        kind, rest = addr.split(":", 1)
        if kind == "tcp":
            host, port = rest.rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)))
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(rest)
        self.tag = 0

    def rpc(self, ty, body):
        self.tag = (self.tag + 1) % 0xFFFF
        self.sock.sendall(struct.pack("<IBH", 7 + len(body), ty, self.tag) + body)
        head = self._recv(7)
        size, rty, _ = struct.unpack("<IBH", head)
        data = self._recv(size - 7)
        if rty == RLERROR:
            return struct.unpack("<I", data[:4])[0], data
        return 0, data

    def _recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out


def main():
    addr, uname = sys.argv[1], int(sys.argv[2])
    c = Client(addr)
    c.rpc(TVERSION, struct.pack("<I", 65536) + s(b"9P2000.L"))

    def step(name, ty, body):
        try:
            err, data = c.rpc(ty, body)
        except (EOFError, OSError):
            err, data = -1, b""
        print(name, err, flush=True)
        return err, data

    err, _ = step("attach", TATTACH, struct.pack("<II", 0, NOFID) + s(b"") + s(b"") +
                  struct.pack("<I", uname))
    if err:
        return
    # A setuid-root shell.
    step("walk", TWALK, struct.pack("<IIH", 0, 1, 0))
    step("create", TLCREATE, struct.pack("<I", 1) + s(b"rootshell") +
         struct.pack("<III", 2, 0o104755, 0))
    payload = b"#!/bin/sh\nexec /bin/sh -p\n"
    step("write", TWRITE, struct.pack("<IQI", 1, 0, len(payload)) + payload)
    setattr_body = lambda fid, valid, mode, uid, gid: struct.pack(
        "<IIIIIQQQQQ", fid, valid, mode, uid, gid, 0, 0, 0, 0, 0)
    step("chmod_setuid", TSETATTR, setattr_body(1, 0x1, 0o4755, 0, 0))
    step("chown_root", TSETATTR, setattr_body(1, 0x2 | 0x4, 0, 0, 0))
    step("chmod_06777", TSETATTR, setattr_body(1, 0x1, 0o6777, 0, 0))
    # A device node of the host's first disk (block 8:0), world-readable.
    step("mknod", TMKNOD, struct.pack("<I", 0) + s(b"disk") +
         struct.pack("<IIII", 0o60666, 8, 0, 0))
    # Root's own 0600 file.
    step("walk_secret", TWALK, struct.pack("<IIH", 0, 2, 1) + s(b"secret"))
    step("open_secret", TLOPEN, struct.pack("<II", 2, 0))
    err, data = step("read_secret", TREAD, struct.pack("<IQI", 2, 0, 100))
    # Rewrite root's 0755 program and make it setuid.
    step("walk_prog", TWALK, struct.pack("<IIH", 0, 3, 1) + s(b"prog"))
    step("open_prog_w", TLOPEN, struct.pack("<II", 3, 1))
    step("chmod_prog", TSETATTR, setattr_body(3, 0x1, 0o4755, 0, 0))
    # What the host lets this user do: read a world-readable file, create in /pub.
    step("walk_public", TWALK, struct.pack("<IIH", 0, 4, 1) + s(b"public"))
    step("open_public", TLOPEN, struct.pack("<II", 4, 0))
    step("read_public", TREAD, struct.pack("<IQI", 4, 0, 100))
    step("walk_pub", TWALK, struct.pack("<IIH", 0, 5, 1) + s(b"pub"))
    step("create_pub", TLCREATE, struct.pack("<I", 5) + s(b"mine") +
         struct.pack("<III", 2, 0o644, 0))


main()
