#!/usr/bin/env python3
"""Judge one VM run of tests/vm/guest/proxy-workload.sh: the guest's CHECK lines plus
host-side checks of what the workload left in the export.

usage: host-check.py --export DIR --results LOG [--secret FILE] [--workdir DIR]
                     [--workdir-allow NAME ...] [--xfail FILE] [--label TEXT]

Output and exit status: tests/vm/checklib.py (verdict).
"""
import argparse
import hashlib
import os
import stat
import subprocess
import sys

import checklib
from checklib import Checks


def lst(path):
    try:
        return os.lstat(path)
    except OSError as e:
        return e


def file_checks(c, ex, expects):
    def P(rel):
        return os.path.join(ex, rel)

    def st_is(name, rel, **want):
        st = lst(P(rel))
        if isinstance(st, OSError):
            c.fail(name, f"{rel}: {st}")
            return
        got = {}
        for k, v in want.items():
            if k == "type":
                got[k] = {stat.S_IFREG: "reg", stat.S_IFDIR: "dir", stat.S_IFLNK: "lnk",
                          stat.S_IFCHR: "chr", stat.S_IFBLK: "blk", stat.S_IFIFO: "fifo",
                          stat.S_IFSOCK: "sock"}.get(stat.S_IFMT(st.st_mode), "?")
            elif k == "mode":
                got[k] = stat.S_IMODE(st.st_mode)
            elif k == "rdev":
                got[k] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                got[k] = getattr(st, "st_" + k)
        bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
        if bad:
            c.fail(name, f"{rel}: " + ", ".join(
                f"{k}={g!r} want {w!r}" if k != "mode" else f"mode={g:04o} want {w:04o}"
                for k, (g, w) in bad.items()))
        else:
            c.ok(name)

    def content(name, rel, want):
        try:
            with open(P(rel), "rb") as f:
                c.eq(name, f.read(), want)
        except OSError as e:
            c.fail(name, f"{rel}: {e}")

    def xattr(name, rel, attr, want):
        try:
            got = os.getxattr(P(rel), attr, follow_symlinks=False)
        except OSError as e:
            got = e.errno
            if want is None and e.errno == 61:  # ENODATA
                c.ok(name)
                return
            c.fail(name, f"{rel} {attr}: {e}")
            return
        c.eq(name, got, want)

    def link(name, rel, target):
        try:
            c.eq(name, os.readlink(P(rel)), target)
        except OSError as e:
            c.fail(name, f"{rel}: {e}")

    def absent(name, rel):
        st = lst(P(rel))
        c.true(name, isinstance(st, OSError), f"{rel} exists on the host")

    # export root itself
    st_is("root-unchanged", ".", type="dir", mode=0o755, uid=0, gid=0)
    # host-made content (seed-export.sh) and the first chown
    if os.path.isdir(P("pre")):
        st_is("chown-first", "pre/chownme", uid=1111, gid=2222)
        st_is("pre-untouched", "pre/hello.txt", mode=0o640, uid=4321, gid=4322)
        content("pre-content", "pre/hello.txt", b"preexisting\n")
        xattr("pre-xattr", "pre/hello.txt", "user.host", b"fromhost")
    # data
    content("hello", "hello.txt", b"hello\nworld\n")
    st_is("hello-stat", "hello.txt", type="reg", mode=0o644, uid=0, gid=0, nlink=1)
    for kind, rel, want in expects:
        if kind in ("md5", "sha256"):
            try:
                h = hashlib.new(kind)
                with open(P(rel), "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                c.eq(f"{kind}-{rel}", h.hexdigest(), want)
            except OSError as e:
                c.fail(f"{kind}-{rel}", str(e))
    st_is("big-size", "big.bin", size=4206649)
    st = lst(P("sparse"))
    c.true("sparse", not isinstance(st, OSError) and st.st_size == (1 << 30) + 1
           and st.st_blocks * 512 < (1 << 20), f"sparse: {st}")
    st_is("create-umask0", "mode666", mode=0o666)
    # directories and renames
    st_is("mkdir-mode", "d750", type="dir", mode=0o750)
    absent("rmdir", "d1")
    content("nested", "n/a/b/c/d/f", b"deep\n")
    st_is("dots-dir", "...", type="dir")
    absent("rename-file-old", "r1")
    absent("rename-file-mid", "r2")
    content("rename-across", "rx/r3", b"r1\n")
    content("rename-replace", "rb", b"a\n")
    absent("rename-replace-old", "ra")
    absent("rename-dir-old", "rd")
    absent("rename-dir-mid", "rd2")
    absent("rename-dir-mid2", "rx/rd3")
    content("rename-dir-f1", "rd4/f1", b"f1\n")
    content("rename-dir-f2", "rd4/sub/f2", b"f2\n")
    content("rename-dir-new", "rd4/sub/new", b"new\n")
    content("rename-cwd-create", "rd4/relfile", b"rel\n")
    content("rename-open-fd", "rn2", b"keep\n")
    # hard links
    absent("link-unlinked", "hl1")
    st_is("link-nlink", "hl2", nlink=2)
    a, b = lst(P("hl2")), lst(P("hl3"))
    c.true("link-same-inode", not isinstance(a, OSError) and not isinstance(b, OSError)
           and a.st_ino == b.st_ino, "hl2/hl3 are not one inode")
    content("link-data", "hl3", b"hl\nmore\n")
    # symlinks
    link("symlink", "sl1", "hello.txt")
    st_is("symlink-owner", "sl1", type="lnk", uid=1234, gid=2345)
    link("symlink-dangling", "sl-dangling", "nowhere")
    link("symlink-long", "sl-long", "n" * 1000)
    link("symlink-abs", "sl-abs", "/tmp/guestfile")
    link("symlink-passwd", "sl-passwd", "/etc/passwd")
    # mknod
    st_is("fifo", "fifo1", type="fifo", mode=0o644)
    st_is("mknod-chr", "cdev", type="chr", rdev=(4, 64), mode=0o644, uid=0, gid=0)
    st_is("mknod-chr-bignum", "cdev-big", type="chr", rdev=(250, 300000))
    st_is("mknod-blk", "bdev", type="blk", rdev=(7, 3), mode=0o600)
    # chmod / chown
    st_is("chmod", "cm", mode=0)
    st_is("chmod-sticky-dir", "cmdir", mode=0o1777)
    st_is("chown-1234", "own1", uid=1234, gid=2345)
    st_is("chown-nobody", "own2", uid=65534, gid=65534)
    st_is("chown-gid", "own3", uid=0, gid=100)
    st_is("chown-group-only", "own4", uid=1000, gid=777)
    st_is("chown-big-ids", "own5", uid=100000, gid=200000)
    st_is("secret600", "secret600", mode=0o600, uid=0, gid=0)
    # non-root creations
    st_is("user-create", "pub/ufile", type="reg", uid=1000, gid=1000, mode=0o600, nlink=2)
    content("user-create-content", "pub/ufile", b"u\n")
    st_is("user-mkdir", "pub/udir", type="dir", uid=1000, gid=1000, mode=0o755)
    st_is("user-symlink", "pub/ulink", type="lnk", uid=1000, gid=1000)
    st_is("user-mkfifo", "pub/ufifo", type="fifo", uid=1000, gid=1000)
    st_is("user2-create", "pub/vfile", uid=2000, gid=3000)
    xattr("user-xattr", "pub/ufile", "user.owner", b"u1000")
    absent("user-eacces-create", "n/nope")
    st_is("sgid-file", "sgid/ufile", uid=1000, gid=777)
    st_is("sgid-dir", "sgid/udir", type="dir", uid=1000, gid=777, mode=0o2755)
    # truncate
    st_is("truncate-zero", "tr", size=0)
    st_is("truncate-grow", "tr2", size=5000)
    content("truncate-otrunc", "tr3", b"yz\n")
    # timestamps (seconds only: the 6.1 client truncates what it sets to whole seconds)
    for rel, a, m in (("ts1", 1000000000, 1200000000), ("d750", 1100000000, 1300000000),
                      ("ts-nsec", 1010000000, 1210000000)):
        st = lst(P(rel))
        if isinstance(st, OSError):
            c.fail(f"utimens-{rel}", str(st))
        else:
            c.eq(f"utimens-{rel}-atime", st.st_atime_ns // 10**9, a)
            c.eq(f"utimens-{rel}-mtime", st.st_mtime_ns // 10**9, m)
    # xattrs
    xattr("xattr-k1", "xa", "user.k1", b"v1b")
    xattr("xattr-k2-removed", "xa", "user.k2", None)
    xattr("xattr-large", "xa", "user.large", b"n" * 3000)
    xattr("xattr-dir", "d750", "user.dir", b"dv")
    try:
        names = sorted(n for n in os.listxattr(P("xa"), follow_symlinks=False)
                       if n.startswith("user."))
        c.eq("xattr-list", names, ["user.k1", "user.large"])
    except OSError as e:
        c.fail("xattr-list", str(e))
    # statfs
    sv = os.statvfs(ex)
    for kind, rel, want in expects:
        if kind == "statfs_bytes":
            host = sv.f_frsize * sv.f_blocks
            c.true("statfs-bytes", abs(int(want) - host) <= host // 100,
                   f"guest {want} host {host}")
        elif kind == "statfs_type":
            try:
                out = subprocess.run(["stat", "-f", "-c", "%t", ex], capture_output=True,
                                     text=True, check=True).stdout.strip()
                # QEMU's 9p passes the host's f_type through; a server may answer V9FS_MAGIC
                got, host_type = int(want, 16), int(out, 16)
                c.true("statfs-type", got in (host_type, 0x01021997),
                       f"guest f_type {got:#x}, host {host_type:#x}")
            except (OSError, subprocess.CalledProcessError, ValueError) as e:
                c.fail("statfs-type", str(e))
        elif kind == "statfs_files":
            c.eq("statfs-files", int(want), sv.f_files)
    # unlink while open
    absent("unlink-open", "uo")
    absent("unlink-open-write", "uo2")
    # readdir
    try:
        names = os.listdir(P("many"))
        c.eq("readdir-many", sorted(names), sorted(f"entry-{i}" for i in range(1, 257)))
    except OSError as e:
        c.fail("readdir-many", str(e))
    for n in ["n" * 255, "sp ace", "-dash", "ünï", "a\\b", "semi;colon"]:
        st = lst(P(n))
        c.true(f"name-{n[:12]}", not isinstance(st, OSError), f"{n!r} missing")
    # escapes: nothing the guest did may show up outside the export
    for n in ["p9-escape-probe", "p9-escape-probe2", "hard-out"]:
        absent(f"escape-{n}-in-export", n)
        c.true(f"escape-{n}-on-host", not os.path.lexists("/" + n), f"/{n} exists on the host")
    c.true("escape-stolen", not os.path.lexists("/tmp/stolen"), "/tmp/stolen exists on the host")


def main():
    ap = argparse.ArgumentParser()
    checklib.add_run_args(ap)
    ap.add_argument("--no-file-checks", action="store_true",
                    help="judge the guest's checks only (a workload other than proxy's)")
    args = ap.parse_args()
    text, guest, expects = checklib.read_guest(args.results)

    host = Checks()
    if not os.path.isdir(args.export):
        host.fail("export", f"{args.export} missing")
    elif not checklib.guest_mounted(guest):
        host.fail("export-checks", "skipped: the guest never mounted the share")
    elif not args.no_file_checks:
        file_checks(host, args.export, expects)
    checklib.host_run_checks(host, args, text)
    return checklib.verdict(args, guest, host)


if __name__ == "__main__":
    sys.exit(main())
