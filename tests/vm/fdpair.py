#!/usr/bin/env python3
"""Run a proxy helper and QEMU on the two ends of one AF_UNIX socketpair (QEMU's sock_fd mode).

usage: fdpair.py HELPER_LOG HELPER_STATUS_FILE HELPER_ARGV... --- QEMU_ARGV...

Every "{fd}" inside an argument is replaced by that side's descriptor number (the helper gets
`-f {fd}`, QEMU `-fsdev proxy,id=f,sock_fd={fd}`). The helper's stdout/stderr go to
HELPER_LOG; its exit status (or -SIGNAL) is written to HELPER_STATUS_FILE once it has exited
(it is killed if it is still running 10 s after QEMU ended). Exits with QEMU's status.
"""
import signal
import socket
import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 5 or "---" not in sys.argv:
        print(__doc__, file=sys.stderr)
        return 2
    helper_log, status_file = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    sep = rest.index("---")
    helper_argv, qemu_argv = rest[:sep], rest[sep + 1:]

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fa, fb = a.fileno(), b.fileno()
    with open(helper_log, "ab") as log:
        helper = subprocess.Popen(
            [x.replace("{fd}", str(fa)) for x in helper_argv],
            pass_fds=[fa], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    a.close()
    try:
        qemu = subprocess.Popen([x.replace("{fd}", str(fb)) for x in qemu_argv],
                                pass_fds=[fb], stdin=subprocess.DEVNULL)
    finally:
        b.close()
    signal.signal(signal.SIGTERM, lambda *_: (qemu.terminate(), helper.terminate()))
    qrc = qemu.wait()
    try:
        hrc = helper.wait(timeout=10)
    except subprocess.TimeoutExpired:
        helper.kill()
        hrc = helper.wait()
        with open(helper_log, "a") as log:
            log.write("fdpair: helper still running 10 s after QEMU exited: killed\n")
    with open(status_file, "w") as f:
        f.write(f"{hrc}\n")
    return qrc


if __name__ == "__main__":
    sys.exit(main())
