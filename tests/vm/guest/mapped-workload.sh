#!/bin/sh
# Guest workload of the mapped-xattr interoperability scenario (tests/vm/run-mapped.sh): one
# export served in turn by our unprivileged `p9proxy serve --security-model mapped-xattr` and
# by QEMU's own `-fsdev local,security_model=mapped-xattr`, mounted with access=user.
#
# usage: mapped-workload.sh MNT STEP...   (steps run in order)
#   write:P:U1:U2   as root and as uids U1/U2, create under MNT/P.dir: a file, a directory,
#                   a char and a block device, a FIFO, a symlink, a setuid file; chmod/chown
#   verify:P:U1:U2  what write:P:U1:U2 made looks right (owners, modes, types, device
#                   numbers, symlink target, contents)
#   hidden          the user.virtfs.* xattrs are out of reach (not listed, not read/written)
# The expected host-side bytes are checked by tests/vm/mapped-check.py.
. /workloads/checklib.sh
M=${1:-/mnt}
shift
cd / || exit 1
umask 022
as() { _u=$1; shift; p9t asuser "$_u" "$_u" "$@"; }

write() { # write P U1 U2
  D=$M/$1.dir U1=$2 U2=$3
  check "$1-mkdir" mkdir -m 0755 "$D"
  check "$1-chown-dir" chown "$U1:$U1" "$D"
  check "$1-chmod-dir" chmod 01777 "$D"
  check "$1-create-as-$U1" as "$U1" sh -c "echo data > $D/f1"
  check "$1-chmod-as-$U1" as "$U1" chmod 0640 "$D/f1"
  check "$1-mkdir-as-$U2" as "$U2" mkdir -m 0750 "$D/d2"
  check "$1-mknod-chr" mknod -m 0620 "$D/chr" c 4 64
  check "$1-chown-chr" chown "$U2:$U1" "$D/chr"
  check "$1-mknod-blk" mknod -m 0660 "$D/blk" b 8 1
  check "$1-mkfifo-as-$U1" as "$U1" mkfifo -m 0644 "$D/fifo"
  check "$1-symlink-as-$U2" as "$U2" ln -s f1 "$D/sym"
  check "$1-create-suid" sh -c "echo x > $D/suid && chmod 04755 $D/suid"
}

verify() { # verify P U1 U2
  D=$M/$1.dir U1=$2 U2=$3
  stat_is "$1-v-dir" "$D" type=dir mode=1777 "uid=$U1" "gid=$U1"
  stat_is "$1-v-f1" "$D/f1" type=reg mode=0640 "uid=$U1" "gid=$U1" size=5
  stat_is "$1-v-d2" "$D/d2" type=dir mode=0750 "uid=$U2" "gid=$U2"
  stat_is "$1-v-chr" "$D/chr" type=chr mode=0620 "uid=$U2" "gid=$U1" rdev=4:64
  stat_is "$1-v-blk" "$D/blk" type=blk mode=0660 uid=0 gid=0 rdev=8:1
  stat_is "$1-v-fifo" "$D/fifo" type=fifo mode=0644 "uid=$U1" "gid=$U1"
  stat_is "$1-v-sym" "$D/sym" type=lnk "uid=$U2" "gid=$U2"
  stat_is "$1-v-suid" "$D/suid" type=reg mode=4755 uid=0 gid=0
  check_eq "$1-v-readlink" "$(readlink "$D/sym")" f1
  check_eq "$1-v-data" "$(as "$U1" cat "$D/f1")" data
  # fs.protected_symlinks: in a sticky directory owned by U1, U1 may not follow a link
  # owned by U2 (the guest kernel decides this from the owners the server reports).
  check_eq "$1-v-protected-symlink" "$(as "$U1" p9t try open "$D/sym")" EACCES
  check_eq "$1-v-ls" "$(ls "$D" | tr '\n' ' ')" "blk chr d2 f1 fifo suid sym "
}

hidden() {
  f=$(ls -d "$M"/*.dir | head -n 1)/f1
  check_eq hidden-getxattr "$(p9t try getxattr "$f" user.virtfs.uid)" ENODATA
  got=$(p9t try setxattr_create "$f" user.virtfs.uid AAAA)
  info "setxattr user.virtfs.uid: $got"
  check_match hidden-setxattr-refused "$got" '^E'
  got=$(p9t try rmxattr "$f" user.virtfs.mode)
  info "removexattr user.virtfs.mode: $got"
  check_match hidden-rmxattr-refused "$got" '^E'
  check_eq hidden-listxattr "$(p9t listxattr "$f" | grep -c virtfs)" 0
  stat_is hidden-unchanged "$f" mode=0640
}

for step in "$@"; do
  section "$step"
  IFS=: read -r what p u1 u2 <<EOF
$step
EOF
  case "$what" in
    write) write "$p" "$u1" "$u2" ;;
    verify) verify "$p" "$u1" "$u2" ;;
    hidden) hidden ;;
    *) fail "step" "unknown step $step" ;;
  esac
done
summary
