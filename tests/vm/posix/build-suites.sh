#!/usr/bin/env bash
# Build the third-party POSIX suites for the busybox guest, as STATIC binaries, from the
# unmodified sources in ../shared/thirdparty (or P9PROXY_THIRDPARTY): pjdfstest (pjdfstest.c +
# its tests/ tree), xfstests' ltp/fsx.c and ltp/fsstress.c. Then pack them with the guest side
# of the POSIX scenarios into an initramfs overlay (a second cpio archive: the kernel unpacks
# concatenated archives in order) and print the path of the full initramfs
# (build-initramfs.sh's + the overlay).
#
# Cache: <cache>/posix/<hash>/ keyed by the hash of the sources, the config headers below, the
# guest files in tests/vm/posix/ and this script; nothing is rebuilt while they are unchanged.
# The autotools steps of the suites only decide HAVE_* macros: they are written here for
# Debian 12 (glibc 2.36, gcc 12). fsstress needs <xfs/xfs.h> (xfslibs-dev, install-deps.sh).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

TP=${P9PROXY_THIRDPARTY:-$REPO_ROOT/../shared/thirdparty}
[[ -f "$TP/pjdfstest/pjdfstest.c" ]] || TP=/work/shared/thirdparty
[[ -f "$TP/pjdfstest/pjdfstest.c" && -f "$TP/xfstests/ltp/fsx.c" ]] ||
  die "third-party sources not found (set P9PROXY_THIRDPARTY to the thirdparty/ folder)"
[[ -f /usr/include/xfs/xfs.h ]] || die "/usr/include/xfs/xfs.h missing: run scripts/install-deps.sh (xfslibs-dev)"
POSIX_DIR=$VM_DIR/posix

# pjdfstest's config.h: what its configure.ac finds on Linux/glibc (no chflags, bindat,
# connectat, lpathconf, ACLs or birth time).
PJD_CONFIG='#define HAVE_SYS_SYSMACROS_H 1
#define HAVE_FACCESSAT 1
#define HAVE_FCHMODAT 1
#define HAVE_FCHOWNAT 1
#define HAVE_FSTATAT 1
#define HAVE_LINKAT 1
#define HAVE_MKDIRAT 1
#define HAVE_MKFIFOAT 1
#define HAVE_MKNODAT 1
#define HAVE_OPENAT 1
#define HAVE_POSIX_FALLOCATE 1
#define HAVE_READLINKAT 1
#define HAVE_RENAMEAT 1
#define HAVE_SYMLINKAT 1
#define HAVE_UTIMENSAT 1
#define HAVE_STRUCT_STAT_ST_ATIM 1
#define HAVE_STRUCT_STAT_ST_CTIM 1
#define HAVE_STRUCT_STAT_ST_MTIM 1'
# xfstests' config.h (include/config.h.in, as its configure fills it on Debian 12; no libaio,
# io_uring or btrfsutil).
XFS_CONFIG='#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_STATVFS_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_IOCTL_H 1
#define HAVE_SYS_WAIT_H 1
#define HAVE_MALLOC_H 1
#define HAVE_DIRENT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_UNISTD_H 1
#define HAVE_ERRNO_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_FCNTL_H 1
#define HAVE_TIME_H 1
#define HAVE_WAIT_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_LIBGEN_H 1
#define HAVE_ASSERT_H 1
#define HAVE_STRINGS_H 1
#define HAVE_LINUX_FALLOC_H 1
#define HAVE_SYS_MMAN_H 1
#define HAVE_ERR_H 1
#define HAVE_LINUX_FIEMAP_H 1
#define HAVE_SYS_PRCTL_H 1
#define HAVE_COPY_FILE_RANGE 1
#define HAVE_RENAMEAT2 1
#define HAVE_XFS_XFS_H 1
#define HAVE_XFS_JDM_H 1'

base=$("$VM_DIR/build-initramfs.sh")
key=$({
  echo "$PJD_CONFIG"; echo "$XFS_CONFIG"; gcc --version | head -1
  sha256sum "$0" "$base"
  (cd "$TP" && find pjdfstest xfstests -type f | LC_ALL=C sort | xargs sha256sum)
  (cd "$POSIX_DIR" && find . -type f -name '*' ! -name '*.xfail' | LC_ALL=C sort | xargs sha256sum)
} | sha256sum | cut -c1-16)
out=$VM_CACHE/posix/$key
if [[ -f "$out/initramfs.cpio.gz" ]]; then echo "$out/initramfs.cpio.gz"; exit 0; fi

log "building pjdfstest, fsx, fsstress (static) into $out"
mkdir -p "$VM_CACHE/posix"
tmp=$(mktemp -d "$out.XXXXXX")  # a build of its own: concurrent callers do not collide
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{inc-pjd,inc-xfs,stage/posix,stage/bin,stage/workloads}
printf '%s\n' "$PJD_CONFIG" > "$tmp/inc-pjd/config.h"
printf '%s\n' "$XFS_CONFIG" > "$tmp/inc-xfs/config.h"
st=$tmp/stage
gcc -static -O2 -D_GNU_SOURCE -I"$tmp/inc-pjd" -o "$st/posix/pjdfstest" \
  "$TP/pjdfstest/pjdfstest.c"
XFLAGS=(-static -O2 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -include getopt.h -I"$tmp/inc-xfs"
  -I"$TP/xfstests/src" -I"$TP/xfstests/include")
gcc "${XFLAGS[@]}" -o "$st/bin/fsx" "$TP/xfstests/ltp/fsx.c"
gcc "${XFLAGS[@]}" -o "$st/bin/fsstress" "$TP/xfstests/ltp/fsstress.c"
strip "$st/posix/pjdfstest" "$st/bin/fsx" "$st/bin/fsstress"
cp -r "$TP/pjdfstest/tests" "$st/posix/tests"
install -m 0755 "$POSIX_DIR/openssl" "$st/bin/openssl"
install -m 0644 "$POSIX_DIR/subset.txt" "$st/posix/subset.txt"
install -m 0755 "$POSIX_DIR/posix-workload.sh" "$st/workloads/posix-workload.sh"
# pjdfstest asks `id -u nobody` / `id -g nobody` (utimensat/06.t, 07.t): Debian's ids
mkdir -p "$st/etc"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$st/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$st/etc/group"
(cd "$st" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet) \
  | gzip -1 > "$tmp/overlay.cpio.gz"
cat "$base" "$tmp/overlay.cpio.gz" > "$tmp/initramfs.cpio.gz"
cp "$st/posix/pjdfstest" "$st/bin/fsx" "$st/bin/fsstress" "$tmp/"
rm -rf "$tmp/stage" "$tmp/inc-pjd" "$tmp/inc-xfs"
chmod 0755 "$tmp"
mv -T "$tmp" "$out" 2>/dev/null || true  # another build may have won the race: same content
log "posix initramfs: $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1))"
echo "$out/initramfs.cpio.gz"
