#!/usr/bin/env python3
"""Writes the seed corpora of the request-handling fuzz targets (valid request
sequences on the export their harness seeds: a, empty, d/, d/b, d/sub/, ln -> a,
out -> outside, d/up -> ../outside/secret).

  p9_server_dispatch: 9P2000.L frames sent after the harness's Tversion and
                      Tattach(fid 0 = the export root, uid 0).
  proxy_helper_serve: proxy-protocol requests, as QEMU sends them to its helper.

Run from the repository root: python3 fuzz/seeds.py
"""
import os
import struct

NOFID = 0xFFFFFFFF
OUT = "fuzz/corpus"


def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("<H", len(b)) + b


def frame(ty, tag, body):
    return struct.pack("<IBH", 7 + len(body), ty, tag) + body


# 9P2000.L
def tversion(msize, v="9P2000.L"): return (100, struct.pack("<I", msize) + s(v))
def tattach(fid, uid, aname=""): return (104, struct.pack("<II", fid, NOFID) + s("") + s(aname) + struct.pack("<I", uid))
def twalk(fid, newfid, *names): return (110, struct.pack("<IIH", fid, newfid, len(names)) + b"".join(s(n) for n in names))
def tlopen(fid, flags): return (12, struct.pack("<II", fid, flags))
def tlcreate(fid, name, flags, mode, gid=0): return (14, struct.pack("<I", fid) + s(name) + struct.pack("<III", flags, mode, gid))
def tread(fid, off, count): return (116, struct.pack("<IQI", fid, off, count))
def twrite(fid, off, data): return (118, struct.pack("<IQI", fid, off, len(data)) + data)
def tclunk(fid): return (120, struct.pack("<I", fid))
def tremove(fid): return (122, struct.pack("<I", fid))
def tgetattr(fid, mask=0x3FFF): return (24, struct.pack("<IQ", fid, mask))
def tsetattr(fid, valid, mode=0, uid=0, gid=0, size=0): return (26, struct.pack("<IIIIIQQQQQ", fid, valid, mode, uid, gid, size, 0, 0, 0, 0))
def tstatfs(fid): return (8, struct.pack("<I", fid))
def treaddir(fid, off, count): return (40, struct.pack("<IQI", fid, off, count))
def tfsync(fid, datasync=0): return (50, struct.pack("<II", fid, datasync))
def tlock(fid, ty, start, length, flags=0): return (52, struct.pack("<IBIQQI", fid, ty, flags, start, length, 1) + s("fuzz"))
def tgetlock(fid, ty, start, length): return (54, struct.pack("<IBQQI", fid, ty, start, length, 1) + s("fuzz"))
def tmkdir(dfid, name, mode, gid=0): return (72, struct.pack("<I", dfid) + s(name) + struct.pack("<II", mode, gid))
def tsymlink(dfid, name, target, gid=0): return (16, struct.pack("<I", dfid) + s(name) + s(target) + struct.pack("<I", gid))
def tmknod(dfid, name, mode, major, minor, gid=0): return (18, struct.pack("<I", dfid) + s(name) + struct.pack("<IIII", mode, major, minor, gid))
def tlink(dfid, fid, name): return (70, struct.pack("<II", dfid, fid) + s(name))
def trename(fid, dfid, name): return (20, struct.pack("<II", fid, dfid) + s(name))
def trenameat(od, on, nd, nn): return (74, struct.pack("<I", od) + s(on) + struct.pack("<I", nd) + s(nn))
def tunlinkat(dfid, name, flags=0): return (76, struct.pack("<I", dfid) + s(name) + struct.pack("<I", flags))
def treadlink(fid): return (22, struct.pack("<I", fid))
def txattrwalk(fid, newfid, name): return (30, struct.pack("<II", fid, newfid) + s(name))
def txattrcreate(fid, name, size, flags=0): return (32, struct.pack("<I", fid) + s(name) + struct.pack("<QI", size, flags))
def tflush(oldtag): return (108, struct.pack("<H", oldtag))
def tauth(afid): return (102, struct.pack("<I", afid) + s("") + s("") + struct.pack("<I", 0))

RDONLY, WRONLY, RDWR, CREATE, EXCL, TRUNC, APPEND, DIRECTORY = 0, 1, 2, 0o100, 0o200, 0o1000, 0o2000, 0o200000

P9 = {
    "read_file": [twalk(0, 1, "a"), tlopen(1, RDONLY), tread(1, 0, 4096), tclunk(1)],
    "write_fsync": [twalk(0, 1, "d", "b"), tlopen(1, RDWR), twrite(1, 100, b"xyz" * 10), tfsync(1), tread(1, 90, 64), tclunk(1)],
    "create": [twalk(0, 1), tlcreate(1, "new", RDWR | EXCL, 0o644), twrite(1, 0, b"data"), tgetattr(1), tclunk(1)],
    "readdir": [twalk(0, 1, "d"), tlopen(1, RDONLY | DIRECTORY), treaddir(1, 0, 8192), treaddir(1, 2, 100), tclunk(1)],
    "mkdir_rename_unlink": [tmkdir(0, "m", 0o755), twalk(0, 1, "m"), tmkdir(1, "n", 0o700), trenameat(0, "m", 0, "m2"), tunlinkat(1, "n", 0x200), tunlinkat(0, "m2", 0x200)],
    "setattr": [twalk(0, 1, "a"), tsetattr(1, 0x1, mode=0o600), tsetattr(1, 0x8, size=3), tsetattr(1, 0x6, uid=1000, gid=1000), tgetattr(1)],
    "links": [tsymlink(0, "s", "d/b"), twalk(0, 1, "s"), treadlink(1), twalk(0, 2, "a"), tlink(0, 2, "hard"), trename(2, 0, "moved"), twalk(0, 3, "ln"), treadlink(3)],
    "escape": [twalk(0, 1, "out", "secret"), twalk(0, 2, "..", ".."), twalk(0, 3, "d", "up"), tlopen(3, RDONLY), twalk(0, 4, "out"), tlopen(4, RDONLY | DIRECTORY), tlcreate(4, "x", RDWR, 0o644), tmkdir(4, "x", 0o755), tunlinkat(0, "out")],
    "mknod": [tmknod(0, "fifo", 0o10644, 0, 0), twalk(0, 1, "fifo"), tlopen(1, RDONLY), tmknod(0, "dev", 0o20644, 1, 3), twalk(0, 2, "dev"), tlopen(2, RDWR)],
    "xattr": [twalk(0, 1, "a"), txattrcreate(1, "user.k", 3), twrite(1, 0, b"val"), tclunk(1), twalk(0, 2, "a"), txattrwalk(2, 3, "user.k"), tread(3, 0, 100), txattrwalk(2, 4, ""), tread(4, 0, 100)],
    "locks": [twalk(0, 1, "a"), tlopen(1, RDWR), tlock(1, 1, 0, 10), twalk(0, 2, "a"), tlopen(2, RDWR), tgetlock(2, 1, 0, 0), tlock(2, 1, 5, 10, flags=1), tlock(1, 2, 0, 0)],
    "misc": [tstatfs(0), tauth(5), tflush(3), tflush(0xFFFF), tgetattr(0), twalk(0, 0), tremove(0), tversion(8192), tattach(1, 1000), twalk(1, 2, "d"), tremove(2)],
    "big_io": [twalk(0, 1, "empty"), tlopen(1, WRONLY | APPEND | TRUNC), twrite(1, 0, bytes(range(256)) * 16), twalk(0, 2, "empty"), tlopen(2, RDONLY), tread(2, 0, 65000), tread(2, 1 << 62, 10)],
}


# The proxy protocol: type[4] size[4] body; strings are len[2] bytes.
def preq(ty, *fields):
    body = b""
    for f in fields:
        if isinstance(f, (str, bytes)):
            body += s(f)
        elif isinstance(f, tuple):  # ("q", n)
            body += struct.pack("<q", f[1])
        else:
            body += struct.pack("<i", f)
    return struct.pack("<II", ty, len(body)) + body


T_OPEN, T_CREATE, T_MKNOD, T_MKDIR, T_SYMLINK, T_LINK, T_LSTAT, T_READLINK, T_STATFS, T_CHMOD, T_CHOWN, T_TRUNCATE, T_UTIME, T_RENAME, T_REMOVE, T_LGETXATTR, T_LLISTXATTR, T_LSETXATTR, T_LREMOVEXATTR, T_GETVERSION = range(2, 22)

PROXY = {
    "seq_tree": [preq(T_LSTAT, "/"), preq(T_OPEN, "/a", 0), preq(T_MKDIR, 0, 0, "/m", 0o755), preq(T_CREATE, "/m/f", 0o101, 0o644, 0, 0),
                 preq(T_RENAME, "/m/f", "/m/g"), preq(T_REMOVE, "/m/g"), preq(T_REMOVE, "/m"), preq(T_READLINK, "/ln", 4096)],
    "seq_escape": [preq(T_OPEN, "/out/secret", 0), preq(T_LSTAT, "/../outside/secret"), preq(T_OPEN, "/d/up", 0), preq(T_CREATE, "/out/x", 0o101, 0o644, 0, 0),
                   preq(T_CHMOD, "/out", 0o777), preq(T_TRUNCATE, "/d/up", ("q", 0)), preq(T_RENAME, "/a", "/out/a"), preq(T_REMOVE, "/out")],
    "seq_meta": [preq(T_CHMOD, "/a", 0o600), preq(T_CHOWN, "/a", 1000, 1000), preq(T_TRUNCATE, "/d/b", ("q", 5)), preq(T_STATFS, "/"),
                 preq(T_SYMLINK, 0, 0, "d/b", "/s"), preq(T_LINK, "/a", "/h"), preq(T_MKNOD, 0, 0, "/p", 0o10644, ("q", 0))],
}


def write(target, name, data):
    path = os.path.join(OUT, target, name)
    with open(path, "wb") as f:
        f.write(data)


for name, msgs in P9.items():
    write("p9_server_dispatch", name, b"".join(frame(ty, tag + 1, body) for tag, (ty, body) in enumerate(msgs)))
for name, reqs in PROXY.items():
    write("proxy_helper_serve", name, b"".join(reqs))
# Each single request of the decoder's corpus, and all of them in one stream.
single = sorted(os.listdir(os.path.join(OUT, "proxy_request")))
for n in single:
    with open(os.path.join(OUT, "proxy_request", n), "rb") as f:
        write("proxy_helper_serve", "one_" + n, f.read())
write("proxy_helper_serve", "all", b"".join(open(os.path.join(OUT, "proxy_request", n), "rb").read() for n in single))
