#!/bin/sh
# Guest workload for a server that does NOT trust the user running QEMU (no --allow-user):
# the guest's root, whatever it claims, acts on the host as QEMU's user, whom the host
# kernel checks (tests/vm/run-tcp.sh --qemu-user). Run as root in the guest on an export
# seeded by tests/vm/seed-export.sh (root-owned 0755 root, pre/ with host-made files).
# Output: CHECK lines and a SUMMARY (see checklib.sh).
. /workloads/checklib.sh
M=${1:-/mnt}
cd / || exit 1

section identity
# What the host lets QEMU's user do still works: list and read world-readable files.
check read-public cat "$M/pre/dir/a"
check list ls "$M/pre"
# Nothing more: the guest's root is not root on the host.
check_errno chown-root-file-refused EPERM chown "$M/pre/chownme" 1234 1234
check_errno read-0640-refused EACCES open "$M/pre/hello.txt"
check_errno create-in-root-dir-refused EACCES creat_excl "$M/planted"
check_errno mkdir-in-root-dir-refused EACCES mkdir "$M/planted-dir" 493
if mknod "$M/pre/disk" b 8 0 2>/dev/null; then
  fail mknod-refused "a block device node was made"
else
  ok mknod-refused
fi
stat_is chownme-still-root "$M/pre/chownme" uid=0 gid=0
summary
