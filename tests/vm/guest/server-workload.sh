#!/bin/sh
# Guest workload for a 9P2000.L FILE SERVER (p9proxy serve, diod, ...) mounted at $1 with
# access=user (each guest uid attaches on its own; the server acts as that uid). Covers every
# message the Linux 6.1 client sends with checked results:
#   version/attach (mount, second mount, per-uid attaches), walk, lopen, lcreate, read, write
#   (several msizes and block sizes), clunk, getattr, setattr (chmod/chown/truncate/utimes),
#   readdir (3000 entries, stable offsets, deletion while reading), statfs, fsync (full and
#   datasync), mkdir, symlink, mknod, link, renameat, unlinkat, readlink, xattrwalk,
#   xattrcreate, lock/getlock, flush (a request interrupted by SIGKILL).
# The Linux client never sends Tauth, Tremove or Trename while Tunlinkat/Trenameat work.
# Linux 6.1 sends F_GETLK (when no local lock conflicts) as a Tgetlock of type UNLCK: a server
# must then probe for any conflicting lock, not pass UNLCK to fcntl(F_GETLK) (EINVAL).
#
# Needs the export seeded by tests/vm/seed-export.sh + tests/vm/seed-server.sh, and the host
# holding a lock on srv/locked until srv/lock-release appears (tests/vm/lockhold.py).
# Facts for the host go out as EXPECT lines (checked by tests/vm/server-check.py).
#
# Output: CHECK/INFO/EXPECT lines and a final SUMMARY (see checklib.sh).
. /workloads/checklib.sh
M=${1:-/mnt}
M2=/mnt2          # second mount of the same export (small msize): another 9P session
cd / || exit 1
umask 022
T0=$(date +%s)
U=1000            # a user with a passwd entry on the host
U2=2000           # a user without one (servers must not need one)

sum() { md5sum | cut -d' ' -f1; }
fsum() { md5sum < "$1" | cut -d' ' -f1; }
as_u() { p9t asuser $U $U "$@"; }
ok_if() { # ok_if NAME CONDITION-RESULT(0/1) DETAIL
  if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "$3"; fi
}
long_name() { printf "%${1}s" "" | tr ' ' 'n'; }

# ---------------------------------------------------------------------------------------------
section 0-mount
mnt_line=$(grep " $M " /proc/mounts)
info "mount: $mnt_line"
check_match mount-access-user "$mnt_line" 'access=user'
msize=$(echo "$mnt_line" | sed -n 's/.*msize=\([0-9]*\).*/\1/p')
info "msize=$msize"
mkdir -p "$M2"
if [ "$P9_TRANS" = virtio ]; then
  m2_src=$P9_TAG; m2_opts="trans=virtio,version=9p2000.L,access=user,msize=8192"
else
  m2_src=$P9_HOST
  m2_opts="trans=tcp,port=$P9_PORT,version=9p2000.L,uname=$P9_UNAME,aname=$P9_ANAME,access=user,msize=8192"
fi
if mount -t 9p -o "$m2_opts" "$m2_src" "$M2" 2>/tmp/m2.err; then
  ok mount-second
  info "second mount: $(grep " $M2 " /proc/mounts)"
  HAVE_M2=1
else
  fail mount-second "$(cat /tmp/m2.err)"
  HAVE_M2=0
fi
if [ -d "$M/srv" ] && [ -d "$M/pre" ]; then ok seeded; else fail seeded "srv/ or pre/ missing: export not seeded"; fi

# ---------------------------------------------------------------------------------------------
section 1-host-content
want=$(cat "$M/srv/hostbig.md5")
check_eq host-big-cat "$(fsum "$M/srv/hostbig.bin")" "$want"
check_eq host-big-bs4k "$(dd if="$M/srv/hostbig.bin" bs=4096 2>/dev/null | sum)" "$want"
check_eq host-big-bs1m "$(dd if="$M/srv/hostbig.bin" bs=1048576 2>/dev/null | sum)" "$want"
check_eq host-big-bs-odd "$(dd if="$M/srv/hostbig.bin" bs=65537 2>/dev/null | sum)" "$want"
[ $HAVE_M2 = 1 ] && check_eq host-big-msize8k "$(fsum "$M2/srv/hostbig.bin")" "$want"
stat_is host-big-size "$M/srv/hostbig.bin" type=reg size=4198625
# a read past the end, and one from the middle
check_eq host-big-tail "$(dd if="$M/srv/hostbig.bin" bs=4321 skip=970 2>/dev/null | wc -c)" 7255
check_eq host-big-past-eof "$(dd if="$M/srv/hostbig.bin" bs=4096 skip=100000 2>/dev/null | wc -c)" 0
stat_is host-fifo "$M/srv/hostfifo" type=fifo mode=0644
stat_is host-sock "$M/srv/hostsock" type=sock
stat_is host-cdev "$M/pre/cdev" type=chr rdev=1:5 mode=0600
check_eq host-readdir "$(ls "$M/pre/dir" | tr '\n' ' ')" "a b c "
check_eq host-xattr "$(p9t getxattr "$M/pre/hello.txt" user.host)" fromhost
stat_is host-owner "$M/pre/hello.txt" uid=4321 gid=4322 mode=0640

# ---------------------------------------------------------------------------------------------
section 2-data
mkdir "$M/data"
SZ=3146505   # 3 MiB + 777: no block size divides it
p9t gen $SZ 42 > /tmp/big
bsum=$(fsum /tmp/big)
check data-write-bs1m dd if=/tmp/big of="$M/data/b1" bs=1048576
check data-write-bs4k dd if=/tmp/big of="$M/data/b2" bs=4096
check data-write-bs-odd dd if=/tmp/big of="$M/data/b3" bs=131071
cat /tmp/big > "$M/data/b4"
for f in b1 b2 b3 b4; do
  stat_is "data-size-$f" "$M/data/$f" type=reg size=$SZ
  check_eq "data-read-$f" "$(fsum "$M/data/$f")" "$bsum"
done
expect md5 data/b4 "$bsum"
check_eq data-read-bs512 "$(dd if="$M/data/b1" bs=512 2>/dev/null | sum)" "$bsum"
check_eq data-read-bs-odd "$(dd if="$M/data/b2" bs=99991 2>/dev/null | sum)" "$bsum"
check_eq data-read-bs4m "$(dd if="$M/data/b3" bs=4194304 2>/dev/null | sum)" "$bsum"
[ $HAVE_M2 = 1 ] && check_eq data-read-other-session "$(fsum "$M2/data/b4")" "$bsum"
# overwrite across a 1 MiB boundary without truncating, on a copy too
cp /tmp/big /tmp/big1
dd if=/dev/zero of="$M/data/b1" bs=1000 count=70 seek=1020 conv=notrunc 2>/dev/null
dd if=/dev/zero of=/tmp/big1 bs=1000 count=70 seek=1020 conv=notrunc 2>/dev/null
s1=$(fsum /tmp/big1)
check_eq data-overwrite "$(fsum "$M/data/b1")" "$s1"
stat_is data-overwrite-size "$M/data/b1" size=$SZ
expect md5 data/b1 "$s1"
rm -f /tmp/big1
# append
p9t gen 100000 7 > /tmp/app
cat /tmp/app >> "$M/data/b2"
s2=$(cat /tmp/big /tmp/app | sum)
check_eq data-append "$(fsum "$M/data/b2")" "$s2"
stat_is data-append-size "$M/data/b2" size=$((SZ + 100000))
expect md5 data/b2 "$s2"
# truncate: shrink keeps the head, grow adds zeros
check data-truncate-shrink truncate -s 3000001 "$M/data/b3"
check_eq data-truncate-shrink-content "$(fsum "$M/data/b3")" "$(head -c 3000001 /tmp/big | sum)"
check data-truncate-grow truncate -s 3100001 "$M/data/b3"
check_eq data-truncate-grow-zeros "$(tail -c 100000 "$M/data/b3" | tr -d '\000' | wc -c)" 0
check_eq data-truncate-grow-head "$(head -c 3000001 "$M/data/b3" | sum)" "$(head -c 3000001 /tmp/big | sum)"
stat_is data-truncate-size "$M/data/b3" size=3100001
expect size data/b3 3100001
# sparse: 1 byte past 4 GiB (offsets beyond 32 bits), holes read as zeros
check data-sparse dd if=/dev/urandom of="$M/data/sparse" bs=1 count=1 seek=4294967296
stat_is data-sparse-size "$M/data/sparse" size=4294967297
check_eq data-sparse-hole "$(dd if="$M/data/sparse" bs=65536 skip=1000 count=4 2>/dev/null | tr -d '\000' | wc -c)" 0
expect size data/sparse 4294967297
expect sparse data/sparse 1048576
# fsync and fdatasync on an open file (Tfsync with datasync 0 and 1)
check_eq data-fsync "$(p9t fsync "$M/data/fs" full)" OK
check_eq data-fdatasync "$(p9t fsync "$M/data/fs" data)" OK
check_eq data-fsync-content "$(cat "$M/data/fs")" ss
# coherence between the two sessions (no cache)
if [ $HAVE_M2 = 1 ]; then
  echo from-m1 > "$M/data/coh"
  check_eq data-coherent "$(cat "$M2/data/coh")" from-m1
  echo from-m2 >> "$M2/data/coh"
  check_eq data-coherent-back "$(cat "$M/data/coh")" "$(printf 'from-m1\nfrom-m2')"
fi
rm -f /tmp/app

# ---------------------------------------------------------------------------------------------
section 3-bigdir
N=3000
P=entry-with-a-fairly-long-name-to-span-several-readdir-replies-
mkdir "$M/bigdir"
check bigdir-create p9t mkmany "$M/bigdir" "$P" $N
awk -v p="$P" -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "%s%06d\n", p, i }' > /tmp/want
wsum=$(sum < /tmp/want)
section 3a-bigdir-list
ls "$M/bigdir" > /tmp/got
check_eq bigdir-ls-count "$(wc -l < /tmp/got)" $N
check_eq bigdir-ls-names "$(sort /tmp/got | sum)" "$wsum"
p9t lsdir "$M/bigdir" 1024 > /tmp/got
check_eq bigdir-getdents-1k-count "$(wc -l < /tmp/got)" $N
check_eq bigdir-getdents-1k-names "$(sort /tmp/got | sum)" "$wsum"
p9t lsseek "$M/bigdir" 1234 > /tmp/got
check_eq bigdir-seekdir-count "$(wc -l < /tmp/got)" $N
check_eq bigdir-seekdir-names "$(sort /tmp/got | sum)" "$wsum"
if [ $HAVE_M2 = 1 ]; then
  # msize 8192: dozens of Treaddir calls, each resuming at the previous reply's last offset
  p9t lsdir "$M2/bigdir" 65536 > /tmp/got
  check_eq bigdir-msize8k-count "$(wc -l < /tmp/got)" $N
  check_eq bigdir-msize8k-names "$(sort /tmp/got | sum)" "$wsum"
  p9t lsseek "$M2/bigdir" 2345 > /tmp/got
  check_eq bigdir-msize8k-seekdir "$(sort /tmp/got | sum)" "$wsum"
fi
section 3b-bigdir-ls-l
check_eq bigdir-ls-l "$(ls -l "$M/bigdir" | grep -c '^-')" $N
section 3c-bigdir-rm
check_eq bigdir-rm-while-reading "$(p9t rmall "$M/bigdir" | sed 's/passes=[0-9]* //')" "removed=$N"
check_eq bigdir-empty "$(ls -A "$M/bigdir" | wc -l)" 0
check bigdir-rmdir rmdir "$M/bigdir"
expect absent bigdir -
rm -f /tmp/got /tmp/want

# ---------------------------------------------------------------------------------------------
section 4-renames
R=$M/ren; mkdir "$R" "$R/d1" "$R/d2"
echo one > "$R/f1"
ino=$(field "$R/f1" ino)
check rename-file mv "$R/f1" "$R/f2"
check_errno rename-file-old-gone ENOENT open "$R/f1"
check_eq rename-file-content "$(cat "$R/f2")" one
check_eq rename-file-same-ino "$(field "$R/f2" ino)" "$ino"
echo two > "$R/f3"
check rename-over-existing mv -f "$R/f2" "$R/f3"
check_eq rename-over-existing-content "$(cat "$R/f3")" one
check rename-across-dirs mv "$R/f3" "$R/d1/f4"
check_eq rename-across-content "$(cat "$R/d1/f4")" one
expect content ren/d1/f4 one
mkdir -p "$R/dd/sub"; echo deep > "$R/dd/sub/x"
check rename-dir mv "$R/dd" "$R/dd2"
check_eq rename-dir-content "$(cat "$R/dd2/sub/x")" deep
check rename-dir-into-dir mv "$R/dd2" "$R/d2/dd3"
check_eq rename-dir-into-content "$(cat "$R/d2/dd3/sub/x")" deep
mkdir "$R/empty"
check_errno rename-dir-over-empty-dir OK rename "$R/d2/dd3" "$R/empty"
check_eq rename-dir-over-empty-content "$(cat "$R/empty/sub/x")" deep
expect content ren/empty/sub/x deep
mkdir -p "$R/full/x"
check_match rename-dir-over-nonempty "$(p9t try rename "$R/empty" "$R/full")" '^(ENOTEMPTY|EEXIST)$'
echo z > "$R/plain"
check_errno rename-file-over-dir EISDIR rename "$R/plain" "$R/full"
check_errno rename-dir-over-file ENOTDIR rename "$R/full" "$R/plain"
check_errno rename-into-itself EINVAL rename "$R/full" "$R/full/x/in"
check_errno rename-to-self OK rename "$R/plain" "$R/plain"
ln "$R/plain" "$R/plain-link"
check_errno rename-hardlink-onto-itself OK rename "$R/plain" "$R/plain-link"
check_eq rename-hardlink-both-stay "$(ls "$R" | grep -c '^plain')" 2
echo keep > "$R/open"
exec 3< "$R/open"
mv "$R/open" "$R/d1/moved"
check_eq rename-open-fd "$(cat <&3)" keep
exec 3<&-
[ $HAVE_M2 = 1 ] && check_eq rename-seen-by-other-session "$(cat "$M2/ren/d1/moved")" keep
expect absent ren/f1 -
expect absent ren/open -
expect content ren/d1/moved keep

# ---------------------------------------------------------------------------------------------
section 5-links
L=$M/links; mkdir "$L" "$L/sub"
echo hl > "$L/a"
check link ln "$L/a" "$L/b"
check link-other-dir ln "$L/a" "$L/sub/c"
stat_is link-nlink "$L/a" nlink=3
check_eq link-same-ino "$(field "$L/a" ino)" "$(field "$L/sub/c" ino)"
echo more >> "$L/sub/c"
check_eq link-shared-data "$(cat "$L/b")" "$(printf 'hl\nmore')"
check link-unlink rm "$L/a"
stat_is link-nlink-after "$L/b" nlink=2
check_errno link-dir-eperm EPERM link "$L/sub" "$L/sub-link"
check_errno link-eexist EEXIST link "$L/b" "$L/sub/c"
expect sameino links/b links/sub/c
expect nlink links/b 2
expect absent links/a -

# ---------------------------------------------------------------------------------------------
section 6-symlinks
S=$M/sym; mkdir "$S"
echo target > "$S/t"
check symlink ln -s t "$S/rel"
check_eq readlink "$(readlink "$S/rel")" t
stat_is symlink-lstat "$S/rel" type=lnk size=1
check_eq symlink-follow "$(cat "$S/rel")" target
check symlink-abs ln -s /etc/hostname "$S/abs"
check_eq symlink-abs-is-guest "$(cat "$S/abs")" "$(cat /etc/hostname)"
check symlink-dangling ln -s nowhere "$S/dangling"
check_errno symlink-dangling-enoent ENOENT open "$S/dangling"
LT=$(long_name 4000)
check symlink-long ln -s "$LT" "$S/long"
check_eq readlink-long "$(readlink "$S/long")" "$LT"
ln -s .. "$S/up"
check_eq symlink-dir "$(ls "$S/up/sym/up/sym" | grep -c '^t$')" 1
check symlink-chown-h chown -h 1234:2345 "$S/rel"
stat_is symlink-chown-h-stat "$S/rel" type=lnk uid=1234 gid=2345
stat_is symlink-target-untouched "$S/t" uid=0 gid=0
expect symlink sym/rel t
expect symlink sym/abs /etc/hostname
expect symlink_md5 sym/long "$(printf %s "$LT" | sum)"
expect owner sym/rel 1234:2345

# ---------------------------------------------------------------------------------------------
section 7-special
D=$M/dev; mkdir "$D"
check mkfifo mkfifo "$D/fifo"
stat_is mkfifo-stat "$D/fifo" type=fifo mode=0644
(echo via-fifo > "$D/fifo" &)
check_eq fifo-is-local "$(timeout 10 cat "$D/fifo")" via-fifo
check mknod-chr mknod -m 0640 "$D/null" c 1 3
stat_is mknod-chr-stat "$D/null" type=chr rdev=1:3 mode=0640
check mknod-chr-big mknod "$D/big" c 511 1048575
stat_is mknod-chr-big-stat "$D/big" type=chr rdev=511:1048575
check mknod-blk mknod -m 0600 "$D/blk" b 8 17
stat_is mknod-blk-stat "$D/blk" type=blk rdev=8:17 mode=0600
# a device node is opened by the GUEST's driver, never by the server: 1:3 is the guest's null
check_eq devnode-is-guest-null "$(echo data > "$D/null" && wc -c < "$D/null")" 0
check_eq devnode-host-cdev-is-guest-zero "$(head -c 16 "$M/pre/cdev" | tr -d '\000' | wc -c)" 0
expect type dev/fifo fifo
expect rdev dev/null 1:3
expect rdev dev/big 511:1048575
expect rdev dev/blk 8:17
expect type dev/blk blk
expect mode dev/blk 0600
expect size dev/null 0

# ---------------------------------------------------------------------------------------------
section 8-xattrs
X=$M/xa; echo x > "$X"
check xattr-set p9t setxattr "$X" user.k1 v1
check_eq xattr-get "$(p9t getxattr "$X" user.k1)" v1
check xattr-set2 p9t setxattr "$X" user.k2 "value with spaces"
check_eq xattr-len "$(p9t xattrlen "$X" user.k2)" 17
check_eq xattr-list "$(p9t listxattr "$X" | grep '^user\.' | sort | tr '\n' ' ')" "user.k1 user.k2 "
check_errno xattr-create-exists EEXIST setxattr_create "$X" user.k1 zz
check_errno xattr-replace-missing ENODATA setxattr_replace "$X" user.none zz
check xattr-replace p9t setxattr "$X" user.k1 v1b replace
check_eq xattr-replace-get "$(p9t getxattr "$X" user.k1)" v1b
BIG=$(long_name 3500)   # ext4 keeps all of a file's xattrs in one 4 KiB block
out=$(p9t setxattr "$X" user.large "$BIG" 2>&1) && ok xattr-large || fail xattr-large "$out"
check_eq xattr-large-get "$(p9t getxattr "$X" user.large)" "$BIG"
[ $HAVE_M2 = 1 ] && check_eq xattr-large-get-msize8k "$(p9t getxattr "$M2/xa" user.large)" "$BIG"
check xattr-remove p9t rmxattr "$X" user.k2
check_errno xattr-removed ENODATA getxattr "$X" user.k2
check_errno xattr-remove-missing ENODATA rmxattr "$X" user.k2
check xattr-dir p9t setxattr "$M/data" user.dir dv
check_eq xattr-dir-get "$(p9t getxattr "$M/data" user.dir)" dv
check_errno xattr-enoent ENOENT getxattr "$M/nope" user.x
expect xattr xa user.k1=v1b
expect xattr xa user.k2
expect xattr_md5 xa user.large=$(printf %s "$BIG" | sum)
expect xattr data user.dir=dv

# ---------------------------------------------------------------------------------------------
section 9-permissions
PUB=$M/pub; mkdir "$PUB"; chmod 0777 "$PUB"
check user-create as_u sh -c "echo u > '$PUB/ufile'"
stat_is user-create-stat "$PUB/ufile" type=reg uid=$U gid=$U mode=0644
check user-mkdir as_u mkdir "$PUB/udir"
stat_is user-mkdir-stat "$PUB/udir" type=dir uid=$U gid=$U
check user-symlink as_u ln -s ufile "$PUB/ulink"
stat_is user-symlink-stat "$PUB/ulink" type=lnk uid=$U gid=$U
check user-mkfifo as_u mkfifo "$PUB/ufifo"
stat_is user-mkfifo-stat "$PUB/ufifo" type=fifo uid=$U gid=$U
check_eq user-mknod-chr-eperm "$(as_u sh -c "mknod '$PUB/uchr' c 1 3 2>&1 >/dev/null; echo rc=\$?" | tail -n1)" rc=1
check_eq user-link "$(as_u p9t try link "$PUB/ufile" "$PUB/ufile-ln")" OK
check user-umask077 as_u sh -c "umask 077; echo p > '$PUB/private'"
stat_is user-umask077-stat "$PUB/private" mode=0600 uid=$U
check user-chmod-own as_u chmod 0640 "$PUB/ufile"
stat_is user-chmod-own-stat "$PUB/ufile" mode=0640
check user-xattr-own as_u p9t setxattr "$PUB/ufile" user.by u1000
check user-utimes-own as_u p9t utimens "$PUB/ufile" 1100000000 0 1200000000 0
check user2-create p9t asuser $U2 3000 sh -c "echo v > '$PUB/vfile'"
stat_is user2-create-stat "$PUB/vfile" uid=$U2 gid=3000
expect owner pub/ufile $U:$U
expect owner pub/udir $U:$U
expect owner pub/ulink $U:$U
expect owner pub/ufifo $U:$U
expect owner pub/private $U:$U
expect mode pub/private 0600
expect mode pub/ufile 0640
expect xattr pub/ufile user.by=u1000
expect mtime pub/ufile 1200000000
expect owner pub/vfile $U2:3000
# what uid 1000 must NOT be able to do
echo s > "$M/root600"; chmod 0600 "$M/root600"
echo s > "$M/root644"; chmod 0644 "$M/root644"
mkdir "$M/rootdir"; echo s > "$M/rootdir/f"
check_eq user-eacces-read "$(as_u p9t try open "$M/root600")" EACCES
check_eq user-eacces-write "$(as_u sh -c "echo x >> '$M/root644' 2>/dev/null && echo OK || echo FAIL")" FAIL
check_eq user-eacces-truncate "$(as_u p9t try truncate "$M/root644" 0)" EACCES
check_eq user-eacces-create "$(as_u p9t try creat_excl "$M/rootdir/nope")" EACCES
check_eq user-eacces-mkdir "$(as_u p9t try mkdir "$M/rootdir/nope" 0755)" EACCES
check_eq user-eacces-unlink "$(as_u p9t try unlink "$M/rootdir/f")" EACCES
check_eq user-eacces-rename "$(as_u p9t try rename "$M/rootdir/f" "$PUB/stolen")" EACCES
check_eq user-eacces-hostdir "$(as_u p9t try opendir "$M/srv/hostdir")" EACCES
check_eq user-eperm-chmod "$(as_u p9t try chmod "$M/root644" 0666)" EPERM
check_eq user-eperm-chown "$(as_u p9t try chown "$PUB/ufile" 0 0)" EPERM
check_eq user-eperm-chgrp "$(as_u p9t try chown "$PUB/ufile" $U 0)" EPERM
check_eq user-eperm-utimes "$(as_u sh -c "p9t utimens '$M/root644' 1 0 1 0 2>&1 | sed 's/.*: \(E[A-Z]*\) .*/\1/'")" EPERM
check_eq user-eacces-xattr "$(as_u p9t try setxattr_create "$M/root644" user.x y)" EACCES
check_eq user-group-read "$(as_u cat "$M/srv/group1000")" g
check_eq user-other-group-eacces "$(p9t asuser $U 1001 p9t try open "$M/srv/group1000")" EACCES
mkdir "$M/sticky"; chmod 1777 "$M/sticky"; echo r > "$M/sticky/rootfile"
check_match user-sticky-unlink "$(as_u p9t try unlink "$M/sticky/rootfile")" '^(EPERM|EACCES)$'
stat_is user-sticky-kept "$M/sticky/rootfile" type=reg uid=0
mkdir "$M/sgid"; chown 0:777 "$M/sgid"; chmod 2777 "$M/sgid"
check user-sgid-create as_u sh -c "echo s > '$M/sgid/f'"
stat_is user-sgid-create-stat "$M/sgid/f" uid=$U gid=777
check user-sgid-mkdir as_u mkdir "$M/sgid/d"
stat_is user-sgid-mkdir-stat "$M/sgid/d" type=dir uid=$U gid=777 mode=2755
expect owner sgid/f $U:777
expect content root644 s
expect absent rootdir/nope -
expect absent pub/stolen -
expect content rootdir/f s
expect mode root644 0644

# ---------------------------------------------------------------------------------------------
section 10-setattr
A=$M/attr; mkdir "$A"
echo x > "$A/f"
chmod 0640 "$A/f"; stat_is chmod-0640 "$A/f" mode=0640
chmod 4755 "$A/f"; stat_is chmod-setuid "$A/f" mode=4755
chmod 0 "$A/f"; stat_is chmod-0000 "$A/f" mode=0000
check chown-ids chown 100000:200000 "$A/f"
stat_is chown-ids-stat "$A/f" uid=100000 gid=200000
check chgrp-only chgrp 777 "$A/f"
stat_is chgrp-only-stat "$A/f" uid=100000 gid=777
expect mode attr/f 0000
expect owner attr/f 100000:777
echo abcdefghij > "$A/t"
check truncate-3 truncate -s 3 "$A/t"
check_eq truncate-3-content "$(cat "$A/t")" abc
check_errno truncate-dir EISDIR truncate "$A" 0
check utimes p9t utimens "$A/t" 1000000000 0 1300000000 0
stat_sec() { v=$(field "$1" "$2"); echo "${v%.*}"; }
check_eq utimes-atime "$(stat_sec "$A/t" atime)" 1000000000
check_eq utimes-mtime "$(stat_sec "$A/t" mtime)" 1300000000
check utimes-mtime-only p9t utimens "$A/t" 0 omit 1350000000 0
check_eq utimes-mtime-only-m "$(stat_sec "$A/t" mtime)" 1350000000
check_eq utimes-mtime-only-a "$(stat_sec "$A/t" atime)" 1000000000
check utimes-dir p9t utimens "$A" 1100000000 0 1250000000 0
check_eq utimes-dir-mtime "$(stat_sec "$A" mtime)" 1250000000
touch "$A/now"; now=$(date +%s); mt=$(stat_sec "$A/now" mtime)
if [ $((now - mt)) -le 120 ] && [ $((mt - now)) -le 120 ]; then ok touch-now; else fail touch-now "mtime=$mt now=$now"; fi
expect mtime attr/t 1350000000
expect atime attr/t 1000000000
expect size attr/t 3

# ---------------------------------------------------------------------------------------------
section 11-locks
K=$M/locks; mkdir "$K"; : > "$K/f"; chmod 0666 "$K/f"
# two guest processes on one mount (the guest kernel arbitrates, the server sees Tlock)
p9t lock "$K/f" fcntl hold 2 > /tmp/hold.out &
hp=$!
i=0; until grep -q HELD /tmp/hold.out 2>/dev/null || [ $i -ge 100 ]; do usleep 50000; i=$((i + 1)); done
check_eq lock-held "$(cat /tmp/hold.out)" HELD
check_eq lock-conflict-try "$(p9t lock "$K/f" fcntl try)" EAGAIN
check_eq lock-conflict-getlk "$(p9t lock "$K/f" fcntl get)" WRLCK
# The waiter is woken when the holder's lock goes in the GUEST, which sends the holder's
# Tlock(UNLCK) only afterwards: the waiter's blocking Tlock may reach the server first. A
# server answering BLOCKED at once makes Linux sleep locktimeout (30 s) before retrying; it
# should wait a little for the lock itself (diod does).
blocking_wait() { # blocking_wait NAME KIND
  _t0=$(cut -d. -f1 /proc/uptime)
  _got=$(timeout 45 p9t lock "$K/f" "$2" wait)
  _dt=$(( $(cut -d. -f1 /proc/uptime) - _t0 ))
  check_eq "$1" "$_got" OK
  if [ "$_dt" -le 6 ]; then ok "$1-prompt"; else fail "$1-prompt" "took ${_dt} s after a 1-2 s hold: the server answered BLOCKED and the client slept its locktimeout"; fi
}
blocking_wait lock-blocking-wait fcntl
wait $hp 2>/dev/null
check_eq lock-after-release "$(p9t lock "$K/f" fcntl try)" OK
check_eq lock-getlk-free "$(p9t lock "$K/f" fcntl get)" UNLCK
p9t lock "$K/f" flock hold 1 > /tmp/hold.out &
hp=$!
i=0; until grep -q HELD /tmp/hold.out 2>/dev/null || [ $i -ge 100 ]; do usleep 50000; i=$((i + 1)); done
check_eq flock-conflict "$(p9t lock "$K/f" flock try)" EAGAIN
blocking_wait flock-blocking-wait flock
wait $hp 2>/dev/null
# across two sessions only the SERVER can see the conflict
if [ $HAVE_M2 = 1 ]; then
  : > /tmp/lock.go
  p9t lock "$K/f" fcntl holdfile /tmp/lock.go > /tmp/hold.out &
  hp=$!
  i=0; until grep -q HELD /tmp/hold.out 2>/dev/null || [ $i -ge 100 ]; do usleep 50000; i=$((i + 1)); done
  check_eq lock-server-conflict "$(p9t lock "$M2/locks/f" fcntl try)" EAGAIN
  check_eq lock-server-getlk "$(p9t lock "$M2/locks/f" fcntl get)" WRLCK
  rm -f /tmp/lock.go; wait $hp 2>/dev/null
  check_eq lock-server-after-release "$(p9t lock "$M2/locks/f" fcntl try)" OK
fi
# a lock held by a HOST process (tests/vm/lockhold.py holds flock + POSIX on srv/locked)
check_eq lock-host-conflict "$(p9t lock "$M/srv/locked" fcntl try)" EAGAIN
check_eq lock-host-getlk "$(p9t lock "$M/srv/locked" fcntl get)" WRLCK
check_eq flock-host-conflict "$(p9t lock "$M/srv/locked" flock try)" EAGAIN
: > "$M/srv/lock-release"
got=EAGAIN; i=0
while [ "$got" != OK ] && [ $i -lt 100 ]; do usleep 100000; got=$(p9t lock "$M/srv/locked" fcntl try); i=$((i + 1)); done
check_eq lock-host-released "$got" OK
rm -f /tmp/hold.out "$M/srv/lock-release"

# ---------------------------------------------------------------------------------------------
section 12-statfs
sf=$(p9t statfs "$M")
info "statfs: $sf"
kv() { echo "$sf" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
if [ "$(kv bsize)" -gt 0 ] && [ "$(kv blocks)" -gt 0 ] && [ "$(kv files)" -gt 0 ]; then
  ok statfs-sizes
else
  fail statfs-sizes "$sf"
fi
check_eq statfs-namelen "$(kv namelen)" 255
expect statfs_type . "$(kv type)"
expect statfs_bytes . $(($(kv bsize) * $(kv blocks)))
expect statfs_files . "$(kv files)"
check statfs-busybox stat -f "$M"

# ---------------------------------------------------------------------------------------------
section 13-unlink-open
echo "still here" > "$M/uo"
exec 3< "$M/uo"
check unlink-open rm "$M/uo"
check_errno unlink-open-gone ENOENT open "$M/uo"
check_eq unlink-open-read "$(cat <&3)" "still here"
exec 3<&-
res=$(p9t unlinked "$M/uf")
info "open-unlink-fstat: $res"
check_match open-unlink-fstat "$res" '^size1=10 '
check_match open-unlink-fstat-nlink "$res" ' nlink1=0 '
check_match open-unlink-pwrite-pread "$res" ' pwrite=OK pread=OK data=0123456789abc '
check_match open-unlink-ftruncate "$res" ' ftruncate=OK '
check_match open-unlink-fchmod "$res" ' fchmod=OK '
check_match open-unlink-fstat-after "$res" ' fstat2=OK size2=5 mode2=0600$'
expect absent uo -
expect absent uf -

# ---------------------------------------------------------------------------------------------
section 14-errors
check_errno err-enoent ENOENT open "$M/nope"
check_errno err-enoent-deep ENOENT open "$M/no/such/dir"
check_errno err-enotdir ENOTDIR open "$M/root644/x"
check_errno err-mkdir-eexist EEXIST mkdir "$M/data" 0755
check_errno err-creat-eexist EEXIST creat_excl "$M/root644"
check_errno err-rmdir-enotempty ENOTEMPTY rmdir "$M/data"
check_errno err-rmdir-enotdir ENOTDIR rmdir "$M/root644"
check_errno err-unlink-dir EISDIR unlink "$M/data"
check_errno err-symlink-eexist EEXIST symlink x "$M/root644"
check_errno err-readlink-einval EINVAL readlink "$M/root644"
check_errno err-nametoolong ENAMETOOLONG creat_excl "$M/$(long_name 256)"
check name-255 touch "$M/$(long_name 255)"
check name-odd touch "$M/sp ace" "$M/ünï" "$M/a\\b" "$M/-dash"
check_eq name-odd-readdir "$(find "$M" -maxdepth 1 | grep -cxE "$M/(sp ace|ünï|a\\\\b|-dash)")" 4

# ---------------------------------------------------------------------------------------------
section 15-flush
# SIGKILL a reader in the middle of large reads: the client sends Tflush for the request in
# flight; the server must answer it and keep serving every other fid and session.
if [ $HAVE_M2 = 1 ]; then FM=$M2; else FM=$M; fi
for i in 1 2 3 4 5; do
  dd if="$FM/srv/hostbig.bin" of=/dev/null bs=1048576 2>/dev/null &
  kp=$!
  usleep $((i * 40000))
  kill -9 $kp 2>/dev/null
  wait $kp 2>/dev/null
done
check_eq flush-survived "$(fsum "$FM/srv/hostbig.bin")" "$(cat "$M/srv/hostbig.md5")"
check_eq flush-main-session "$(cat "$M/root644")" s

# ---------------------------------------------------------------------------------------------
section 16-escape
check_eq escape-dotdot "$(ls "$M/.." | grep -cx workloads)" 1
check_eq escape-dotdot-passwd "$(cat "$M/../../etc/passwd")" "$(cat /etc/passwd)"
for l in pre/link-out pre/link-abs srv/link-secret; do
  got=$(cat "$M/$l" 2>&1)
  case "$got" in
    *HOST-SECRET*) fail "escape-$(basename "$l")" "read the host secret: $got" ;;
    *) ok "escape-$(basename "$l")" ;;
  esac
done
check_eq escape-link-etc-is-guest "$(cat "$M/srv/link-etc/hostname")" "$(cat /etc/hostname)"
check_eq escape-link-up-is-guest "$(ls "$M/srv/link-up" | grep -cx workloads)" 1
check_eq escape-link-root-is-guest "$(ls "$M/pre/link-root/" | grep -cx workloads)" 1
check escape-mkdir-via-link mkdir "$M/pre/link-root/p9-escape-probe"
check escape-mkdir-via-link-guest test -d /p9-escape-probe
check_errno escape-rename-exdev EXDEV rename "$M/root644" /tmp/stolen
check_errno escape-link-exdev EXDEV link /etc/passwd "$M/hard-out"
expect absent p9-escape-probe -
expect absent hard-out -

# ---------------------------------------------------------------------------------------------
[ $HAVE_M2 = 1 ] && { umount "$M2" 2>/tmp/m2.err || info "umount $M2: $(cat /tmp/m2.err)"; }
rm -f /tmp/big
sync
info "workload took $(( $(date +%s) - T0 )) s"
summary
