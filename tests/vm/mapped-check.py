#!/usr/bin/env python3
"""Host-side check of tests/vm/run-mapped.sh: the files the guest's `write:P:U1:U2` step made
under EXPORT/P.dir carry exactly the user.virtfs.* xattrs QEMU's mapped-xattr model writes
(hw/9pfs/9p-local.c local_set_xattrat: uid/gid/mode as 4 little-endian bytes, rdev as 8, only
the values set), and the host files are what that model makes (regular files 0600 for files,
devices, FIFOs and symlinks, directories 0700, a symlink's file holding its target).

usage: mapped-check.py EXPORT P U1 U2 [LABEL]; prints CHECK lines, exits 1 on any failure.
"""
import os
import stat
import struct
import sys

export, p, u1, u2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
label = sys.argv[5] if len(sys.argv) > 5 else "mapped"
d = os.path.join(export, p + ".dir")
S = stat
# name: (uid, gid, client mode, rdev or None, host type)
want = {
    "": (u1, u1, S.S_IFDIR | 0o1777, None, S.S_IFDIR),
    "f1": (u1, u1, S.S_IFREG | 0o640, None, S.S_IFREG),
    "d2": (u2, u2, S.S_IFDIR | 0o750, None, S.S_IFDIR),
    "chr": (u2, u1, S.S_IFCHR | 0o620, os.makedev(4, 64), S.S_IFREG),
    "blk": (0, 0, S.S_IFBLK | 0o660, os.makedev(8, 1), S.S_IFREG),
    "fifo": (u1, u1, S.S_IFIFO | 0o644, 0, S.S_IFREG),
    "sym": (u2, u2, S.S_IFLNK | 0o777, None, S.S_IFREG),
    "suid": (0, 0, S.S_IFREG | 0o4755, None, S.S_IFREG),
}
failed = 0


def check(name, ok, detail=""):
    global failed
    if ok:
        print(f"CHECK ok {label}-host-{p}-{name}")
    else:
        failed += 1
        print(f"CHECK FAIL {label}-host-{p}-{name}: {detail}")


for name, (uid, gid, mode, rdev, htype) in want.items():
    path = os.path.join(d, name) if name else d
    try:
        st = os.lstat(path)
        names = sorted(n for n in os.listxattr(path, follow_symlinks=False)
                       if n.startswith("user.virtfs."))
        got = {n: os.getxattr(path, n, follow_symlinks=False) for n in names}
    except OSError as e:
        check(name or "dir", False, f"{path}: {e}")
        continue
    exp = {
        "user.virtfs.uid": struct.pack("<I", uid),
        "user.virtfs.gid": struct.pack("<I", gid),
        "user.virtfs.mode": struct.pack("<I", mode),
    }
    if rdev is not None:
        exp["user.virtfs.rdev"] = struct.pack("<Q", rdev)
    check((name or "dir") + "-xattrs", got == exp, f"got {got} want {exp}")
    hmode = 0o700 if htype == S.S_IFDIR else 0o600
    check((name or "dir") + "-host-mode", (st.st_mode) == (htype | hmode),
          f"host mode {oct(st.st_mode)} want {oct(htype | hmode)}")

try:
    with open(os.path.join(d, "sym"), "rb") as f:
        check("sym-target", f.read() == b"f1")
    with open(os.path.join(d, "f1"), "rb") as f:
        check("f1-data", f.read() == b"data\n")
except OSError as e:
    check("files", False, str(e))
print(f"SUMMARY {label}-host-{p} failed={failed}")
sys.exit(1 if failed else 0)
