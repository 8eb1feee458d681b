#!/usr/bin/env bash
# Build the generic test initramfs: busybox-static, the 9p/virtio/virtio-net modules of the
# cached guest kernel (see fetch-kernel.sh), the static guest tool p9t (tests/vm/guest/p9t.c),
# tests/vm/guest/init as /init and every tests/vm/guest/*.sh as /workloads/*.sh.
#
# Output: <cache>/initramfs.cpio.gz (path printed on stdout). It is rebuilt only when one of its
# inputs changes (kernel version, busybox binary, files under tests/vm/guest/, this script);
# P9PROXY_VM_REBUILD=1 forces a rebuild.
#
# Adding a workload: drop tests/vm/guest/NAME-workload.sh in and boot with p9test=NAME
# (see tests/vm/README.md for the kernel command line parameters the init understands).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

env_file=$("$VM_DIR/fetch-kernel.sh")
# shellcheck disable=SC1090
. "$env_file"

BUSYBOX=${P9PROXY_BUSYBOX:-/bin/busybox}
[[ -x "$BUSYBOX" ]] || die "$BUSYBOX missing: run scripts/install-deps.sh (busybox-static)"
bb_applets=$("$BUSYBOX" --list 2>/dev/null || true)
if ! grep -qx ip <<< "$bb_applets" || ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is not the static busybox (package busybox-static)"
fi

# Modules needed by both transports, in dependency order.
ROOT_MODULES=(9p 9pnet_virtio virtio_pci 9pnet_fd virtio_net)

out=$VM_CACHE/initramfs.cpio.gz
stamp=$VM_CACHE/initramfs.stamp
want_stamp=$({
  echo "$KVER"
  sha256sum "$BUSYBOX" "$0" "$VM_DIR/lib.sh"
  (cd "$VM_DIR/guest" && find . -type f | LC_ALL=C sort | xargs sha256sum)
} | sha256sum | cut -d' ' -f1)

if [[ -z "${P9PROXY_VM_REBUILD:-}" && -f "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
  echo "$out"; exit 0
fi

log "building initramfs for $KVER"
stage=$(mktemp -d "$VM_CACHE/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"   # the guest's / : non-root workload users must traverse it
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,mnt,run,root,lib/modules,workloads}
cp "$BUSYBOX" "$stage/bin/busybox"

# Module load order: modprobe resolves modules.dep of the unpacked tree.
kbase=${MODDIR%/lib/modules/*}
: > "$stage/etc/modules"
for m in "${ROOT_MODULES[@]}"; do
  modprobe -d "$kbase" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  name=$(basename "$ko" .ko)
  cp "$ko" "$stage/lib/modules/$name.ko"
  echo "$name" >> "$stage/etc/modules"
done
[[ -s "$stage/etc/modules" ]] || die "no modules resolved from $MODDIR"

gcc -static -O2 -Wall -Wextra -Werror -o "$stage/bin/p9t" "$VM_DIR/guest/p9t.c"
strip "$stage/bin/p9t" 2>/dev/null || true

install -m 0755 "$VM_DIR/guest/init" "$stage/init"
for f in "$VM_DIR"/guest/*.sh; do
  [[ -e "$f" ]] || continue
  install -m 0755 "$f" "$stage/workloads/$(basename "$f")"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$stage/etc/passwd"
echo "root:x:0:" > "$stage/etc/group"
echo "p9test-guest" > "$stage/etc/hostname"

(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet) \
  | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "$want_stamp" > "$stamp"
log "initramfs: $out ($(du -h "$out" | cut -f1)); modules: $(tr '\n' ' ' < "$stage/etc/modules")"
echo "$out"
