#!/usr/bin/env python3
"""Hold an exclusive flock AND an exclusive whole-file POSIX (fcntl) lock on FILE from the host
until RELEASE appears (or TIMEOUT seconds pass), then release both and exit 0.

usage: lockhold.py FILE RELEASE [TIMEOUT]

A 9P server may implement Tlock with flock, POSIX or OFD locks: holding both kinds makes the
host's lock conflict with any of them. Prints "HELD" once both are taken (stdout, flushed).
"""
import fcntl
import os
import sys
import time


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, release = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) == 4 else 300.0
    fd_flock = os.open(path, os.O_RDWR)
    fd_posix = os.open(path, os.O_RDWR)
    fcntl.flock(fd_flock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.lockf(fd_posix, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("HELD", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not os.path.lexists(release):
        time.sleep(0.05)
    fcntl.lockf(fd_posix, fcntl.LOCK_UN)
    fcntl.flock(fd_flock, fcntl.LOCK_UN)
    print("RELEASED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
