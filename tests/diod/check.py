#!/usr/bin/env python3
"""Checks for tests/diod/run.sh: run Debian's diodls/diodcat against a 9P2000.L server that
exports EXPORT and compare what they show with the host's view of EXPORT.

usage: check.py --server 127.0.0.1:PORT --export DIR [--secret FILE] [--label NAME]
                [--xfail FILE]

Prints "FAIL NAME: detail" for each failing check ("XFAIL NAME: detail" for one listed in the
--xfail file, one name per line, not counted as a failure) and a closing
"LABEL: N passed, M failed[, K xfail]". Every client call has a 60 s limit (5 s where a hang
is the failure being tested).
"""
import argparse
import grp
import hashlib
import os
import pwd
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

# The VM judges' shared half (tests/vm/checklib.py): file digests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vm"))
from checklib import file_digest  # noqa: E402

CALL_TIMEOUT = 60


class Checks:
    def __init__(self, xfail=()):
        self.passed = 0
        self.failed = 0
        self.xfailed = 0
        self.xfail = set(xfail)

    def ok(self, name):
        self.passed += 1
        if name in self.xfail:
            print(f"XPASS {name}", flush=True)

    def fail(self, name, detail):
        if name in self.xfail:
            self.xfailed += 1
            print(f"XFAIL {name}: {detail}", flush=True)
            return
        self.failed += 1
        print(f"FAIL {name}: {detail}", flush=True)

    def true(self, name, cond, detail):
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)

    def eq(self, name, got, want):
        self.true(name, got == want, f"got {got!r:.300} want {want!r:.300}")


class Client:
    def __init__(self, server, aname):
        self.server = server
        self.aname = aname

    def run(self, tool, *args, opts=(), timeout=CALL_TIMEOUT):
        cmd = [tool, "-s", self.server, "-a", self.aname, *opts, *args]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=timeout)
            return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace").strip()
        except subprocess.TimeoutExpired:
            return -1, b"", f"timed out after {timeout} s: {' '.join(cmd)}"

    def ls(self, *args, opts=(), timeout=CALL_TIMEOUT):
        return self.run("diodls", *args, opts=opts, timeout=timeout)

    def cat(self, *args, opts=(), timeout=CALL_TIMEOUT):
        return self.run("diodcat", *args, opts=opts, timeout=timeout)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def names_of(out):
    return sorted(n for n in out.decode("utf-8", "surrogateescape").split("\n") if n)


def host_names(path):
    return sorted(os.listdir(path))


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def parse_long(out):
    """diodls -l lines: 'MODE[.] NLINK USER GROUP SIZE MON DAY HH:MM|YEAR NAME'."""
    rows = {}
    for ln in out.decode("utf-8", "surrogateescape").split("\n"):
        if not ln.strip():
            continue
        parts = ln.split(None, 8)
        if len(parts) < 9:
            rows.setdefault("__bad__", []).append(ln)
            continue
        mode, nlink, user, group, size = parts[:5]
        rows[parts[8]] = (mode.rstrip("."), int(nlink), user, group, int(size))
    return rows


def perm_string(m):
    s = ""
    for who in range(2, -1, -1):
        bits = (m >> (3 * who)) & 7
        s += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return s


def check_long_listing(c, cl, ex, rel):
    name = f"diodls-l-{rel or 'root'}"
    rc, out, err = cl.ls(*([rel] if rel else []), opts=("-l",))
    if rc != 0:
        c.fail(name, f"rc={rc} {err}")
        return
    rows = parse_long(out)
    if "__bad__" in rows:
        c.fail(f"{name}-format", f"unparsable lines: {rows.pop('__bad__')[:3]}")
    d = os.path.join(ex, rel)
    want = set(host_names(d)) | {".", ".."}
    c.eq(f"{name}-names", sorted(rows), sorted(want))
    for n, (mode, nlink, user, group, size) in sorted(rows.items()):
        if n == "..":
            continue  # the parent of the export root is the root itself (not the host's)
        try:
            st = os.lstat(os.path.join(d, n))
        except OSError as e:
            c.fail(f"{name}-{n}", str(e))
            continue
        want_row = (("d" if stat.S_ISDIR(st.st_mode) else "-") + perm_string(st.st_mode),
                    st.st_nlink, user_name(st.st_uid), group_name(st.st_gid), st.st_size)
        # diodls prints 'd' for directories and '-' for every other type
        c.eq(f"{name}-{n}", (mode[:10], nlink, user, group, size), want_row)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--export", required=True)
    ap.add_argument("--secret")
    ap.add_argument("--label", default="diodcli")
    ap.add_argument("--xfail")
    args = ap.parse_args()
    ex = os.path.realpath(args.export)
    xfail = []
    if args.xfail:
        with open(args.xfail) as f:
            xfail = [ln.split("#", 1)[0].strip() for ln in f if ln.split("#", 1)[0].strip()]
    c = Checks(xfail)
    cl = Client(args.server, ex)
    secret = open(args.secret).read().strip() if args.secret else None

    # 1. listings
    for rel in ["", "sub", "sub/deeper", "odd names", "many", "emptydir", "edge"]:
        rc, out, err = cl.ls(*([rel] if rel else []))
        name = f"diodls-{rel or 'root'}"
        if rc != 0:
            c.fail(name, f"rc={rc} {err}")
        else:
            c.eq(name, names_of(out), host_names(os.path.join(ex, rel)))
    rc, out, err = cl.ls("many")
    c.eq("diodls-many-count", len(out.split(b"\n")) - 1 if rc == 0 else -1, 2000)
    for rel in ["", "sub", "odd names", "owned"]:
        check_long_listing(c, cl, ex, rel)
    rc, out, err = cl.ls("many", opts=("-m", "8192"))
    c.eq("diodls-many-msize8k", names_of(out) if rc == 0 else err,
         host_names(os.path.join(ex, "many")))
    rc, out, err = cl.ls("nope")
    c.true("diodls-enoent", rc != 0 and "No such file" in err, f"rc={rc} err={err!r}")
    rc, out, err = cl.ls("hello.txt")
    c.true("diodls-file", rc == 0 and out.strip() == b"hello.txt", f"rc={rc} out={out!r} {err}")

    # 2. file contents
    files = ["hello.txt", "empty", "allbytes", "big.bin", "sub/deeper/deepest/leaf", "sub/x",
             "private", "odd names/sp ace", "odd names/\u00fcn\u00ef", "odd names/-dash",
             "owned/by4321"] + [f"edge/{n}" for n in sorted(os.listdir(os.path.join(ex, "edge")))]
    for rel in files:
        rc, out, err = cl.cat(rel)
        name = f"diodcat-{rel}"
        if rc != 0:
            c.fail(name, f"rc={rc} {err}")
        else:
            want = file_digest(os.path.join(ex, rel), "sha256")
            c.true(name, sha(out) == want,
                   f"{len(out)} bytes, sha256 {sha(out)[:16]}; host has "
                   f"{os.path.getsize(os.path.join(ex, rel))} bytes, sha256 {want[:16]}")
    big_sha = file_digest(os.path.join(ex, "big.bin"), "sha256")
    for msize in ("8192", "65536", "1048576", "4194304"):
        rc, out, err = cl.cat("big.bin", opts=("-m", msize))
        c.true(f"diodcat-big-msize{msize}", rc == 0 and sha(out) == big_sha,
               f"rc={rc} {len(out)} bytes {err}")
    rc, out, err = cl.cat("hello.txt", "sub/x", "allbytes")
    with open(os.path.join(ex, "hello.txt"), "rb") as a, open(os.path.join(ex, "sub/x"), "rb") as b, \
            open(os.path.join(ex, "allbytes"), "rb") as d:
        c.eq("diodcat-several", (rc, sha(out)), (0, sha(a.read() + b.read() + d.read())))
    rc, out, err = cl.cat("link-rel")
    c.true("diodcat-symlink-not-followed", rc != 0 or out == b"hello, 9p\n",
           f"rc={rc} out={out[:60]!r}")
    rc, out, err = cl.cat("nope")
    c.true("diodcat-enoent", rc != 0 and "No such file" in err, f"rc={rc} err={err!r}")
    rc, out, err = cl.cat("sub/deeper/nope/leaf")
    c.true("diodcat-enoent-deep", rc != 0 and out == b"", f"rc={rc} err={err!r}")

    # 3. four clients at once, each reading the big file
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: cl.cat("big.bin"), range(4)))
    c.true("diodcat-parallel", all(r[0] == 0 and sha(r[1]) == big_sha for r in results),
           "; ".join(f"rc={r[0]} {len(r[1])} bytes {r[2]}" for r in results))

    # 4. as another user: the server must act as that uid
    rc, out, err = cl.cat("hello.txt", opts=("-u", "1000"))
    c.true("diodcat-uid1000-world-readable", rc == 0 and out == b"hello, 9p\n", f"rc={rc} {err}")
    rc, out, err = cl.cat("private", opts=("-u", "1000"))
    c.true("diodcat-uid1000-eacces", rc != 0 and out == b"" and "ermission denied" in err,
           f"rc={rc} out={out[:40]!r} err={err!r}")
    rc, out, err = cl.cat("sub/x", opts=("-u", "1000"))
    c.true("diodcat-uid1000-own-file", rc == 0 and out == b"x\n", f"rc={rc} {err}")

    # 5. nothing outside the export: host-made symlinks are never followed by the server, ".."
    #    stops at the export root, and special files are not opened on the host (a fifo would
    #    block a server thread; a device node planted in the export, e.g. by a client's
    #    Tmknod, would give the client the HOST's device: here 1:5, an endless /dev/zero)
    for rel in ["link-out", "link-root/etc/hostname", "../outside-secret", "../../etc/hostname",
                "sub/../../outside-secret", "/etc/hostname"]:
        rc, out, err = cl.cat(rel, timeout=10)
        leak = (secret and secret.encode() in out) or (rel.endswith("hostname") and rc == 0
                                                        and out)
        c.true(f"escape-{rel}", not leak, f"rc={rc} read {out[:60]!r}")
    for rel in ["fifo", "cdev", "sock"]:
        rc, out, err = cl.cat(rel, timeout=5)
        c.true(f"special-{rel}-not-opened", rc > 0 and out == b"",
               f"rc={rc} {len(out)} bytes {err}")
    rc, out, err = cl.ls("..")
    c.true("diodls-dotdot-is-root", rc != 0 or names_of(out) == host_names(ex),
           f"rc={rc} names={names_of(out)[:8]}")
    rc, out, err = cl.ls("link-root")
    c.true("diodls-link-root", rc != 0 or not ({"etc", "proc", "usr"} <= set(names_of(out))),
           f"listed the host's / through a symlink: {names_of(out)[:8]}")

    # 6. the server still answers
    rc, out, err = cl.cat("hello.txt")
    c.eq("server-still-serving", (rc, out), (0, b"hello, 9p\n"))

    print(f"{args.label}: {c.passed} passed, {c.failed} failed"
          + (f", {c.xfailed} xfail" if c.xfailed else ""))
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
