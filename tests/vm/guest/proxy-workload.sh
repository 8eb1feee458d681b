#!/bin/sh
# Guest workload: exercises every proxy operation on a 9p share mounted at $1 (default /mnt)
# and checks each result. Works on any 9P2000.L share (virtio/proxy or tcp), as root.
# When the export was seeded by tests/vm/seed-export.sh (a pre/ directory exists), it also
# checks host-made content and escape attempts through host-made symlinks.
# Host-side counterparts of these checks live in tests/vm/host-check.py: keep names in sync.
#
# Output: CHECK/INFO/EXPECT lines and a final SUMMARY (see checklib.sh).
. /workloads/checklib.sh
M=${1:-/mnt}
cd / || exit 1
umask 022
T0=$(date +%s)

long_name() { # long_name N: a name of N characters
  printf "%${1}s" "" | tr ' ' 'n'
}

# ---------------------------------------------------------------------------------------------
# 0. The very first request after the mount is a chown (no credential switch has happened yet
#    in the helper). QEMU's C helper fails this one (see tests/vm/README.md).
section 0-the
if [ -d "$M/pre" ]; then
  SEEDED=1
  check chown-first chown 1111:2222 "$M/pre/chownme"
  stat_is chown-first-stat "$M/pre/chownme" uid=1111 gid=2222
else
  SEEDED=0
  info "export not seeded (no pre/): host-made-content checks skipped"
fi

# ---------------------------------------------------------------------------------------------
# 1. Host-made content
section 1-hostmade
if [ $SEEDED = 1 ]; then
  check_eq pre-read "$(cat "$M/pre/hello.txt")" preexisting
  stat_is pre-stat "$M/pre/hello.txt" type=reg mode=0640 uid=4321 gid=4322 size=12 nlink=1
  check_eq pre-xattr "$(p9t getxattr "$M/pre/hello.txt" user.host)" fromhost
  stat_is pre-cdev "$M/pre/cdev" type=chr rdev=1:5 mode=0600
  check_eq pre-readdir "$(ls "$M/pre/dir" | tr '\n' ' ')" "a b c "
  check_eq pre-readlink "$(readlink "$M/pre/link-out")" ../../outside-secret
  check_eq pre-readlink-root "$(readlink "$M/pre/link-root")" /
fi

# ---------------------------------------------------------------------------------------------
# 2. Create / write / read back
section 2-create
echo hello > "$M/hello.txt"
check_eq rw-small "$(cat "$M/hello.txt")" hello
stat_is rw-small-stat "$M/hello.txt" type=reg mode=0644 uid=0 gid=0 size=6 nlink=1
echo world >> "$M/hello.txt"
check_eq rw-append "$(cat "$M/hello.txt")" "$(printf 'hello\nworld')"
stat_is rw-append-size "$M/hello.txt" size=12

# multi-MiB file, not a multiple of any block size; md5 (integrity only) is the fastest
# digest under TCG
p9t gen 4206649 "$(date +%s)" > /tmp/big
sum() { md5sum | cut -d' ' -f1; }
big_sum=$(sum < /tmp/big)
check rw-big-write dd if=/tmp/big of="$M/big.bin" bs=1M
stat_is rw-big-size "$M/big.bin" size=4206649
check_eq rw-big-read "$(sum < "$M/big.bin")" "$big_sum"
check_eq rw-big-read-odd "$(dd if="$M/big.bin" bs=77777 2>/dev/null | sum)" "$big_sum"
# overwrite in the middle, same on the local copy
dd if=/dev/zero of="$M/big.bin" bs=1000 count=3 seek=777 conv=notrunc 2>/dev/null
dd if=/dev/zero of=/tmp/big bs=1000 count=3 seek=777 conv=notrunc 2>/dev/null
big_sum=$(sum < /tmp/big)
check_eq rw-big-overwrite "$(sum < "$M/big.bin")" "$big_sum"
expect md5 big.bin "$big_sum"
cat /tmp/big > "$M/big-cat.bin"
check_eq rw-big-cat "$(sum < "$M/big-cat.bin")" "$big_sum"
expect md5 big-cat.bin "$big_sum"
rm -f /tmp/big
# sparse file: one byte at 1 GiB
check rw-sparse dd if=/dev/zero of="$M/sparse" bs=1 count=1 seek=1073741824
stat_is rw-sparse-size "$M/sparse" size=1073741825
# mode of a file created with umask 0 arrives exact
(umask 0; : > "$M/mode666")
stat_is create-umask0 "$M/mode666" mode=0666

# ---------------------------------------------------------------------------------------------
# 3. Directories
section 3-directories
check mkdir mkdir "$M/d1"
stat_is mkdir-stat "$M/d1" type=dir mode=0755 uid=0 gid=0
check rmdir rmdir "$M/d1"
check_errno rmdir-gone ENOENT open "$M/d1"
check_errno mkdir-mode OK mkdir "$M/d750" 0750
stat_is mkdir-mode-stat "$M/d750" type=dir mode=0750
check mkdir-nested mkdir -p "$M/n/a/b/c/d"
echo deep > "$M/n/a/b/c/d/f"
check_eq nested-read "$(cat "$M/n/a/b/c/d/f")" deep
check_eq nested-find "$(find "$M/n" | wc -l)" 6
check mkdir-dots mkdir "$M/..." "$M/.hidden"
check_eq readdir-dots "$(ls -a "$M/n" | tr '\n' ' ')" ". .. a "

# ---------------------------------------------------------------------------------------------
# 4. Renames (files and directories with contents)
section 4-renames
echo r1 > "$M/r1"
check rename-file mv "$M/r1" "$M/r2"
check_errno rename-file-old-gone ENOENT open "$M/r1"
check_eq rename-file-content "$(cat "$M/r2")" r1
echo a > "$M/ra"; echo b > "$M/rb"
check rename-replace mv -f "$M/ra" "$M/rb"
check_eq rename-replace-content "$(cat "$M/rb")" a
check_errno rename-replace-old-gone ENOENT open "$M/ra"
mkdir "$M/rx"
check rename-across-dirs mv "$M/r2" "$M/rx/r3"
check_eq rename-across-content "$(cat "$M/rx/r3")" r1
mkdir -p "$M/rd/sub"; echo f1 > "$M/rd/f1"; echo f2 > "$M/rd/sub/f2"
check rename-dir mv "$M/rd" "$M/rd2"
check_errno rename-dir-old-gone ENOENT open "$M/rd"
check_eq rename-dir-content "$(cat "$M/rd2/f1") $(cat "$M/rd2/sub/f2")" "f1 f2"
check rename-dir-into mv "$M/rd2" "$M/rx/rd3"
check_eq rename-dir-into-content "$(cat "$M/rx/rd3/sub/f2")" f2
echo new > "$M/rx/rd3/sub/new"
check_eq rename-dir-then-create "$(cat "$M/rx/rd3/sub/new")" new
# a process sitting in a directory that gets renamed keeps working (QEMU fixes up its paths)
(cd "$M/rx/rd3" && mv "$M/rx/rd3" "$M/rd4" && echo rel > relfile) 2>/tmp/err
check_eq rename-cwd-create "$(cat "$M/rd4/relfile" 2>&1)" rel
# an open fd survives a rename
echo keep > "$M/rn1"
exec 3< "$M/rn1"
mv "$M/rn1" "$M/rn2"
check_eq rename-open-fd "$(cat <&3)" keep
exec 3<&-

# ---------------------------------------------------------------------------------------------
# 5. Hard links
section 5-hard
echo hl > "$M/hl1"
check link ln "$M/hl1" "$M/hl2"
stat_is link-nlink1 "$M/hl1" nlink=2
stat_is link-nlink2 "$M/hl2" nlink=2
check_eq link-same-ino "$(field "$M/hl1" ino)" "$(field "$M/hl2" ino)"
echo more >> "$M/hl2"
check_eq link-shared-data "$(cat "$M/hl1")" "$(printf 'hl\nmore')"
check link-unlink rm "$M/hl1"
stat_is link-nlink-after-unlink "$M/hl2" nlink=1
ln "$M/hl2" "$M/hl3"
stat_is link-nlink3 "$M/hl3" nlink=2

# ---------------------------------------------------------------------------------------------
# 6. Symlinks
section 6-symlinks
check symlink ln -s hello.txt "$M/sl1"
check_eq readlink "$(readlink "$M/sl1")" hello.txt
stat_is symlink-stat "$M/sl1" type=lnk size=9
check_eq symlink-follow "$(cat "$M/sl1")" "$(printf 'hello\nworld')"
check symlink-dangling ln -s nowhere "$M/sl-dangling"
check_errno symlink-dangling-open ENOENT open "$M/sl-dangling"
ln -s n "$M/sl-dir"
check_eq symlink-dir "$(ls "$M/sl-dir")" a
LONGT=$(long_name 1000)
check symlink-long ln -s "$LONGT" "$M/sl-long"
check_eq readlink-long "$(readlink "$M/sl-long")" "$LONGT"
echo GUEST > /tmp/guestfile
ln -s /tmp/guestfile "$M/sl-abs"
check_eq symlink-abs-is-guest "$(cat "$M/sl-abs")" GUEST

# ---------------------------------------------------------------------------------------------
# 7. mknod: fifo, char and block devices
section 7-mknod
check mkfifo mkfifo "$M/fifo1"
stat_is mkfifo-stat "$M/fifo1" type=fifo mode=0644
(echo through-fifo > "$M/fifo1" &)
check_eq fifo-works "$(timeout 10 cat "$M/fifo1")" through-fifo
check mknod-chr mknod "$M/cdev" c 4 64
stat_is mknod-chr-stat "$M/cdev" type=chr rdev=4:64 mode=0644
check mknod-chr-bignum mknod "$M/cdev-big" c 250 300000
stat_is mknod-chr-bignum-stat "$M/cdev-big" type=chr rdev=250:300000
check mknod-blk mknod -m 0600 "$M/bdev" b 7 3
stat_is mknod-blk-stat "$M/bdev" type=blk rdev=7:3 mode=0600

# ---------------------------------------------------------------------------------------------
# 8. chmod
section 8-chmod
echo x > "$M/cm"
chmod 0640 "$M/cm"; stat_is chmod-0640 "$M/cm" mode=0640
chmod 4755 "$M/cm"; stat_is chmod-setuid "$M/cm" mode=4755
chmod 0 "$M/cm"; stat_is chmod-0000 "$M/cm" mode=0000
mkdir "$M/cmdir"
chmod 1777 "$M/cmdir"; stat_is chmod-sticky-dir "$M/cmdir" type=dir mode=1777

# ---------------------------------------------------------------------------------------------
# 9. chown (as root) to several ids, group-only, symlink itself
section 9-chown
for f in own1 own2 own3 own4 own5; do echo "$f" > "$M/$f"; done
check chown-1234 chown 1234:2345 "$M/own1"
stat_is chown-1234-stat "$M/own1" uid=1234 gid=2345
check chown-nobody chown 65534:65534 "$M/own2"
stat_is chown-nobody-stat "$M/own2" uid=65534 gid=65534
check chown-gid-only-root chown 0:100 "$M/own3"
stat_is chown-gid-only-root-stat "$M/own3" uid=0 gid=100
chown 1000:1000 "$M/own4"
check chown-group-only chgrp 777 "$M/own4"
stat_is chown-group-only-stat "$M/own4" uid=1000 gid=777
check chown-big-ids chown 100000:200000 "$M/own5"
stat_is chown-big-ids-stat "$M/own5" uid=100000 gid=200000
check chown-symlink chown -h 1234:2345 "$M/sl1"
stat_is chown-symlink-stat "$M/sl1" type=lnk uid=1234 gid=2345
stat_is chown-symlink-target-untouched "$M/hello.txt" uid=0 gid=0

# ---------------------------------------------------------------------------------------------
# 10. Objects created by non-root users (the helper must create them with those ids)
section 10-objects
mkdir "$M/pub"; chmod 0777 "$M/pub"
check user-create p9t asuser 1000 1000 sh -c "echo u > '$M/pub/ufile'"
stat_is user-create-stat "$M/pub/ufile" type=reg uid=1000 gid=1000 mode=0644
check user-mkdir p9t asuser 1000 1000 mkdir "$M/pub/udir"
stat_is user-mkdir-stat "$M/pub/udir" type=dir uid=1000 gid=1000
check user-symlink p9t asuser 1000 1000 ln -s ufile "$M/pub/ulink"
stat_is user-symlink-stat "$M/pub/ulink" type=lnk uid=1000 gid=1000
check user-mkfifo p9t asuser 1000 1000 mkfifo "$M/pub/ufifo"
stat_is user-mkfifo-stat "$M/pub/ufifo" type=fifo uid=1000 gid=1000
check user2-create p9t asuser 2000 3000 sh -c "echo v > '$M/pub/vfile'"
stat_is user2-create-stat "$M/pub/vfile" uid=2000 gid=3000
check user-chmod-own p9t asuser 1000 1000 chmod 0600 "$M/pub/ufile"
stat_is user-chmod-own-stat "$M/pub/ufile" mode=0600
check user-xattr-own p9t asuser 1000 1000 p9t setxattr "$M/pub/ufile" user.owner u1000
check_eq user-link-own "$(p9t asuser 1000 1000 p9t try link "$M/pub/ufile" "$M/pub/ufile-link")" OK
# permission checks happen in the guest (access=client) but need the right metadata
echo secret > "$M/secret600"; chmod 0600 "$M/secret600"
check_eq user-eacces-read "$(p9t asuser 1000 1000 p9t try open "$M/secret600")" EACCES
check_eq user-eacces-create "$(p9t asuser 1000 1000 p9t try creat_excl "$M/n/nope")" EACCES
check_eq user-eperm-chown "$(p9t asuser 1000 1000 p9t try chown "$M/pub/vfile" 1000 1000)" EPERM
# setgid directory: group inheritance
mkdir "$M/sgid"; chown 0:777 "$M/sgid"; chmod 2777 "$M/sgid"
check user-sgid-create p9t asuser 1000 1000 sh -c "echo s > '$M/sgid/ufile'"
stat_is user-sgid-create-stat "$M/sgid/ufile" uid=1000 gid=777
check user-sgid-mkdir p9t asuser 1000 1000 mkdir "$M/sgid/udir"
stat_is user-sgid-mkdir-stat "$M/sgid/udir" type=dir uid=1000 gid=777 mode=2755

# ---------------------------------------------------------------------------------------------
# 11. truncate
section 11-truncate
printf 'abcdefghij' > "$M/tr"
check truncate-shrink truncate -s 3 "$M/tr"
check_eq truncate-shrink-content "$(cat "$M/tr")" abc
check truncate-grow truncate -s 100 "$M/tr"
stat_is truncate-grow-size "$M/tr" size=100
check_eq truncate-grow-zeros "$(tail -c 97 "$M/tr" | tr -d '\000' | wc -c)" 0
check truncate-zero truncate -s 0 "$M/tr"
stat_is truncate-zero-size "$M/tr" size=0
printf 'abcdefghij' > "$M/tr2"
check truncate-5000 truncate -s 5000 "$M/tr2"
echo x > "$M/tr3"; echo yz > "$M/tr3"
check_eq truncate-otrunc "$(cat "$M/tr3")" yz
check_errno truncate-dir EISDIR truncate "$M/n" 0

# ---------------------------------------------------------------------------------------------
# 12. Timestamps. Two limits outside the helper shape these checks:
#     - Linux 6.1's 9p client keeps the VFS default s_time_gran of 1 s, so the guest kernel
#       truncates every timestamp it sets to whole seconds: nanoseconds cannot be tested here.
#     - QEMU 7.2's proxy client sends T_UTIME as (atime.sec, MTIME.nsec, mtime.sec, mtime.nsec),
#       so UTIME_OMIT/UTIME_NOW in atime's nsec is lost (the INFO probes below record it).
#     Hence: both times in ONE utimensat call, distinct seconds, equal nsec; check seconds.
section 12-timestamps
echo t > "$M/ts1"
check utimens p9t utimens "$M/ts1" 1000000000 0 1200000000 0
stat_sec() { v=$(field "$1" "$2"); echo "${v%.*}"; }
check_eq utimens-atime "$(stat_sec "$M/ts1" atime)" 1000000000
check_eq utimens-mtime "$(stat_sec "$M/ts1" mtime)" 1200000000
check utimens-dir p9t utimens "$M/d750" 1100000000 0 1300000000 0
check_eq utimens-dir-atime "$(stat_sec "$M/d750" atime)" 1100000000
check_eq utimens-dir-mtime "$(stat_sec "$M/d750" mtime)" 1300000000
echo t > "$M/ts-nsec"
check utimens-nsec p9t utimens "$M/ts-nsec" 1010000000 500000 1210000000 500000
check_eq utimens-nsec-atime "$(stat_sec "$M/ts-nsec" atime)" 1010000000
check_eq utimens-nsec-mtime "$(stat_sec "$M/ts-nsec" mtime)" 1210000000
info "utimens with nsec 500000 (the 6.1 client truncates to seconds): a=$(field "$M/ts-nsec" atime) m=$(field "$M/ts-nsec" mtime)"
touch "$M/ts-now"
now=$(date +%s); mt=$(stat_sec "$M/ts-now" mtime)
if [ $((now - mt)) -le 120 ] && [ $((mt - now)) -le 120 ]; then ok touch-now; else fail touch-now "mtime=$mt now=$now"; fi
echo t > "$M/ts2"
p9t utimens "$M/ts2" 1000000000 0 1200000000 0
p9t utimens "$M/ts2" 0 omit 1250000000 0
info "utimens mtime only (atime omitted; want a=1000000000 m=1250000000): a=$(field "$M/ts2" atime) m=$(field "$M/ts2" mtime)"
p9t utimens "$M/ts2" 1050000000 0 0 omit
info "utimens atime only (mtime omitted; want a=1050000000 m unchanged): a=$(field "$M/ts2" atime) m=$(field "$M/ts2" mtime)"

# ---------------------------------------------------------------------------------------------
# 13. xattrs (user.* namespace)
section 13-xattrs
X=$M/xa; echo x > "$X"
check xattr-set p9t setxattr "$X" user.k1 v1
check_eq xattr-get "$(p9t getxattr "$X" user.k1)" v1
check xattr-set2 p9t setxattr "$X" user.k2 "value with spaces = 28 chars"
check_eq xattr-get2 "$(p9t getxattr "$X" user.k2)" "value with spaces = 28 chars"
check_eq xattr-len "$(p9t xattrlen "$X" user.k2)" 28
check_eq xattr-list "$(p9t listxattr "$X" | grep '^user\.' | sort | tr '\n' ' ')" "user.k1 user.k2 "
check_errno xattr-create-exists EEXIST setxattr_create "$X" user.k1 zz
check_errno xattr-replace-missing ENODATA setxattr_replace "$X" user.nope zz
check xattr-replace p9t setxattr "$X" user.k1 v1b replace
check_eq xattr-replace-get "$(p9t getxattr "$X" user.k1)" v1b
BIGV=$(long_name 3000)
check xattr-large p9t setxattr "$X" user.large "$BIGV"
check_eq xattr-large-get "$(p9t getxattr "$X" user.large)" "$BIGV"
check xattr-remove p9t rmxattr "$X" user.k2
check_errno xattr-removed ENODATA getxattr "$X" user.k2
check_errno xattr-remove-missing ENODATA rmxattr "$X" user.k2
check_eq xattr-list-after "$(p9t listxattr "$X" | grep '^user\.' | sort | tr '\n' ' ')" "user.k1 user.large "
check xattr-dir p9t setxattr "$M/d750" user.dir dv
check_eq xattr-dir-get "$(p9t getxattr "$M/d750" user.dir)" dv
check_eq xattr-list-empty "$(p9t listxattr "$M/hello.txt" | grep -c '^user\.')" 0

# ---------------------------------------------------------------------------------------------
# 14. statfs
section 14-statfs
sf=$(p9t statfs "$M")
# 9P2000.L Rstatfs carries the host's f_type, and Linux reports it as is
sf_type=$(echo "$sf" | tr ' ' '\n' | sed -n 's/^type=//p')
expect statfs_type . "$sf_type"
sf_bsize=$(echo "$sf" | tr ' ' '\n' | sed -n 's/^bsize=//p')
sf_blocks=$(echo "$sf" | tr ' ' '\n' | sed -n 's/^blocks=//p')
sf_files=$(echo "$sf" | tr ' ' '\n' | sed -n 's/^files=//p')
if [ "${sf_bsize:-0}" -gt 0 ] && [ "${sf_blocks:-0}" -gt 0 ]; then ok statfs-sizes; else fail statfs-sizes "$sf"; fi
expect statfs_bytes . $((sf_bsize * sf_blocks))
expect statfs_files . "$sf_files"
check statfs-busybox stat -f "$M"

# ---------------------------------------------------------------------------------------------
# 15. unlink while open
section 15-unlink
echo "still here" > "$M/uo"
exec 3< "$M/uo"
check unlink-open rm "$M/uo"
check_errno unlink-open-gone ENOENT open "$M/uo"
check_eq unlink-open-read "$(cat <&3)" "still here"
exec 3<&-
exec 4> "$M/uo2"
rm "$M/uo2"
if echo data >&4; then ok unlink-open-write; else fail unlink-open-write "write to unlinked fd failed"; fi
exec 4>&-

# ---------------------------------------------------------------------------------------------
# 16. readdir of a large directory, odd names
section 16-readdir
mkdir "$M/many"
i=1; while [ $i -le 256 ]; do : > "$M/many/entry-$i"; i=$((i + 1)); done
check_eq readdir-many-count "$(ls "$M/many" | wc -l)" 256
check_eq readdir-many-names "$(ls "$M/many" | sort | sha256sum | cut -d' ' -f1)" \
  "$(i=1; while [ $i -le 256 ]; do echo "entry-$i"; i=$((i + 1)); done | sort | sha256sum | cut -d' ' -f1)"
check_eq readdir-many-ls-l "$(ls -l "$M/many" | grep -c '^-')" 256
check_eq readdir-root-has "$(ls "$M" | grep -cxE 'hello.txt|many|pub|n')" 4
LONG255=$(long_name 255)
check name-255 touch "$M/$LONG255"
check name-odd touch "$M/sp ace" "$M/-dash" "$M/ünï" "$M/a\\b" "$M/semi;colon"
check_eq name-odd-readdir "$(find "$M" -maxdepth 1 | grep -cxE "$M/(sp ace|-dash|ünï|a\\\\b|semi;colon)")" 5

# ---------------------------------------------------------------------------------------------
# 17. Error paths
section 17-error
check_errno err-open-enoent ENOENT open "$M/nope"
check_errno err-open-enoent-deep ENOENT open "$M/no/such/dir"
check_errno err-enotdir ENOTDIR open "$M/hello.txt/x"
check_errno err-mkdir-eexist EEXIST mkdir "$M/n" 0755
check_errno err-mkdir-eexist-file EEXIST mkdir "$M/hello.txt" 0755
check_errno err-creat-eexist EEXIST creat_excl "$M/hello.txt"
check_errno err-rmdir-enotempty ENOTEMPTY rmdir "$M/n"
check_errno err-rmdir-enotdir ENOTDIR rmdir "$M/hello.txt"
check_errno err-rmdir-enoent ENOENT rmdir "$M/nope"
check_errno err-unlink-enoent ENOENT unlink "$M/nope"
check_errno err-unlink-dir EISDIR unlink "$M/n"
check_errno err-rename-enoent ENOENT rename "$M/nope" "$M/nope2"
got=$(p9t try rename "$M/rx" "$M/n")
check_match err-rename-dir-over-nonempty "$got" '^(ENOTEMPTY|EEXIST)$'
check_errno err-rename-dir-over-file ENOTDIR rename "$M/n" "$M/hello.txt"
check_errno err-rename-into-self EINVAL rename "$M/n" "$M/n/a/inside"
check_errno err-link-eexist EEXIST link "$M/hello.txt" "$M/hl2"
check_errno err-symlink-eexist EEXIST symlink x "$M/hello.txt"
check_errno err-readlink-einval EINVAL readlink "$M/hello.txt"
check_errno err-nametoolong ENAMETOOLONG creat_excl "$M/$(long_name 256)"
check_errno err-getxattr-enoent ENOENT getxattr "$M/nope" user.x
check_errno err-chmod-enoent ENOENT chmod "$M/nope" 0644
check_errno err-chown-enoent ENOENT chown "$M/nope" 1 1

# ---------------------------------------------------------------------------------------------
# 18. Escape attempts: everything must stay inside the export (or resolve in the GUEST)
section 18-escape
check_eq escape-dotdot "$(ls "$M/.." | grep -cx workloads)" 1
check_eq escape-dotdot-ino "$(p9t stat "$M/.." | sed 's/.*ino=\([0-9]*\).*/\1/')" "$(p9t stat / | sed 's/.*ino=\([0-9]*\).*/\1/')"
check_eq escape-dotdot-passwd "$(cat "$M/../../../etc/passwd")" "$(cat /etc/passwd)"
check escape-mkdir-outside mkdir "$M/../p9-escape-probe"
check escape-mkdir-outside-guest test -d /p9-escape-probe
check_errno escape-link-exdev EXDEV link /etc/passwd "$M/hard-out"
check_errno escape-rename-exdev EXDEV rename "$M/hello.txt" /tmp/stolen
ln -s /etc/passwd "$M/sl-passwd"
check_eq escape-symlink-passwd-is-guest "$(cat "$M/sl-passwd")" "$(cat /etc/passwd)"
ln -s ../../../../../.. "$M/sl-up"
check_eq escape-symlink-up-is-guest "$(ls "$M/sl-up" | grep -cx workloads)" 1
if [ $SEEDED = 1 ]; then
  got=$(cat "$M/pre/link-out" 2>&1)
  case "$got" in *HOST-SECRET*) fail escape-host-relative-link "read host secret: $got" ;; *) ok escape-host-relative-link ;; esac
  got=$(cat "$M/pre/link-abs" 2>&1)
  case "$got" in *HOST-SECRET*) fail escape-host-abs-link "read host secret: $got" ;; *) ok escape-host-abs-link ;; esac
  check_eq escape-host-root-link "$(ls "$M/pre/link-root/" | grep -cx workloads)" 1
  check escape-mkdir-via-root-link mkdir "$M/pre/link-root/p9-escape-probe2"
  check escape-mkdir-via-root-link-guest test -d /p9-escape-probe2
fi

sync
info "workload took $(( $(date +%s) - T0 )) s"
summary
