#!/usr/bin/env python3
"""Judge one VM run of tests/vm/guest/server-workload.sh: the guest's CHECK lines plus host-side
checks of every fact the guest announced with an EXPECT line, plus escape checks.

usage: server-check.py --export DIR --results LOG [--secret FILE] [--workdir DIR]
                       [--workdir-allow NAME ...] [--xfail FILE] [--label TEXT]

EXPECT lines ("EXPECT KIND PATH VALUE", PATH relative to the export) understood here:
  md5 PATH HEX             content digest            size PATH N       st_size
  content PATH TEXT        content == TEXT + "\\n"     absent PATH -     no such entry
  type PATH reg|dir|...    file type                 mode PATH 0640    permission bits
  owner PATH UID:GID       owner                     rdev PATH MAJ:MIN device number
  nlink PATH N             link count                sameino PATH OTHER  one inode
  symlink PATH TARGET      readlink                  symlink_md5 PATH HEX  md5 of the target
  xattr PATH NAME=VALUE    user xattr value; "xattr PATH NAME" (no "=") means absent
  xattr_md5 PATH NAME=HEX  md5 of an xattr value     sparse PATH BYTES  allocated <= BYTES
  mtime PATH SEC / atime PATH SEC   whole seconds
  statfs_type . HEX / statfs_bytes . N / statfs_files . N   compared with the host's statfs
Host check names are "KIND-PATH"; the last EXPECT of a KIND for a PATH wins. Output and exit status: tests/vm/checklib.py (verdict).
"""
import argparse
import hashlib
import os
import stat
import subprocess
import sys

import checklib
from checklib import Checks, file_digest

TYPES = {stat.S_IFREG: "reg", stat.S_IFDIR: "dir", stat.S_IFLNK: "lnk", stat.S_IFCHR: "chr",
         stat.S_IFBLK: "blk", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "sock"}


def fact(c, ex, kind, rel, value):
    path = os.path.normpath(os.path.join(ex, rel))
    name = f"{kind}-{rel}"
    if not (path == ex or path.startswith(ex + os.sep)):
        c.fail(name, f"path {rel!r} leaves the export")
        return
    try:
        if kind == "absent":
            c.true(name, not os.path.lexists(path), f"{rel} exists on the host")
            return
        if kind.startswith("statfs_"):
            sv = os.statvfs(ex)
            if kind == "statfs_bytes":
                host = sv.f_frsize * sv.f_blocks
                c.true(name, abs(int(value) - host) <= host // 100, f"guest {value} host {host}")
            elif kind == "statfs_files":
                c.eq(name, int(value), sv.f_files)
            else:
                out = subprocess.run(["stat", "-f", "-c", "%t", ex], capture_output=True,
                                     text=True, check=True).stdout.strip()
                got, host_type = int(value, 16), int(out, 16)
                # a server may pass the host's f_type through or answer V9FS_MAGIC
                c.true(name, got in (host_type, 0x01021997),
                       f"guest f_type {got:#x}, host {host_type:#x}")
            return
        st = os.lstat(path)
        if kind == "md5":
            c.eq(name, file_digest(path), value)
        elif kind == "content":
            with open(path, "rb") as f:
                c.eq(name, f.read(), value.encode() + b"\n")
        elif kind == "size":
            c.eq(name, st.st_size, int(value))
        elif kind == "type":
            c.eq(name, TYPES.get(stat.S_IFMT(st.st_mode), "?"), value)
        elif kind == "mode":
            c.eq(name, f"{stat.S_IMODE(st.st_mode):04o}", value)
        elif kind == "owner":
            c.eq(name, f"{st.st_uid}:{st.st_gid}", value)
        elif kind == "rdev":
            c.eq(name, f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}", value)
        elif kind == "nlink":
            c.eq(name, st.st_nlink, int(value))
        elif kind == "sameino":
            other = os.lstat(os.path.join(ex, value))
            c.true(name, (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino),
                   f"{rel} and {value} are different inodes")
        elif kind == "symlink":
            c.eq(name, os.readlink(path), value)
        elif kind == "symlink_md5":
            c.eq(name, hashlib.md5(os.fsencode(os.readlink(path))).hexdigest(), value)
        elif kind in ("xattr", "xattr_md5"):
            attr, has_value, want = value.partition("=")
            try:
                got = os.getxattr(path, attr, follow_symlinks=False)
            except OSError as e:
                if e.errno == 61 and not has_value:  # ENODATA, and absence was expected
                    c.ok(name)
                else:
                    c.fail(name, f"{attr}: {e}")
                return
            if not has_value:
                c.fail(name, f"{attr} still present ({got[:40]!r})")
            elif kind == "xattr":
                c.eq(name, got, want.encode())
            else:
                c.eq(name, hashlib.md5(got).hexdigest(), want)
        elif kind == "sparse":
            c.true(name, st.st_blocks * 512 <= int(value),
                   f"{st.st_blocks * 512} bytes allocated, want <= {value}")
        elif kind in ("mtime", "atime"):
            got = (st.st_mtime_ns if kind == "mtime" else st.st_atime_ns) // 10**9
            c.eq(name, got, int(value))
        else:
            c.fail(name, f"unknown EXPECT kind {kind!r}")
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        c.fail(name, str(e))


def main():
    ap = argparse.ArgumentParser()
    checklib.add_run_args(ap)
    args = ap.parse_args()
    ex = os.path.realpath(args.export)
    text, guest, expects = checklib.read_guest(args.results)

    host = Checks()
    if not os.path.isdir(ex):
        host.fail("export", f"{ex} missing")
    elif not checklib.guest_mounted(guest):
        host.fail("export-checks", "skipped: the guest never mounted the share")
    else:
        st = os.lstat(ex)
        host.true("root-unchanged", stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0
                  and st.st_gid == 0, f"export root mode {stat.S_IMODE(st.st_mode):o} "
                  f"owner {st.st_uid}:{st.st_gid}")
        host.true("expects-seen", len(expects) >= 50,
                  f"only {len(expects)} EXPECT lines: the workload stopped early?")
        last = {}  # a later EXPECT for the same KIND and PATH replaces an earlier one
        for kind, rel, value in expects:
            last[(kind, rel)] = value
        for (kind, rel), value in last.items():
            fact(host, ex, kind, rel, value)
        # the host-made content the guest must not have changed
        fact(host, ex, "owner", "pre/hello.txt", "4321:4322")
        fact(host, ex, "content", "pre/hello.txt", "preexisting")
        if os.path.exists(os.path.join(ex, "srv/hostbig.md5")):
            with open(os.path.join(ex, "srv/hostbig.md5")) as f:
                fact(host, ex, "md5", "srv/hostbig.bin", f.read().strip())
    # escapes: nothing the guest did may show up outside the export
    for n in ["/p9-escape-probe", "/p9-escape-probe2", "/hard-out", "/tmp/stolen"]:
        host.true(f"escape-{n.strip('/').replace('/', '-')}-on-host", not os.path.lexists(n),
                  f"{n} exists on the host")
    checklib.host_run_checks(host, args, text)
    return checklib.verdict(args, guest, host)


if __name__ == "__main__":
    sys.exit(main())
