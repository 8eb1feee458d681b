#!/usr/bin/env bash
# Fetch Debian's generic 6.1 guest kernel (linux-image-6.1.0-NN-amd64) WITHOUT installing it:
# `apt-get download` the .deb, `dpkg-deb -x` it into the cache, run `depmod -b`.
#
# Cache: ${P9PROXY_VM_CACHE:-<repo>/.cache/vm}/kernel/<version>/ ; the file
# <cache>/kernel.env records KVER / VMLINUZ / MODDIR for the other scripts.
# An existing cached kernel is reused without asking apt (works offline); set
# P9PROXY_VM_KERNEL_REFRESH=1 to re-resolve NN (e.g. after a Debian security update).
#
# Prints the path of kernel.env on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ENV_FILE=$VM_CACHE/kernel.env
mkdir -p "$VM_CACHE/kernel"

if [[ -z "${P9PROXY_VM_KERNEL_REFRESH:-}" && -f "$ENV_FILE" ]]; then
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  if [[ -f "${VMLINUZ:-}" && -f "${MODDIR:-}/modules.dep" ]]; then
    echo "$ENV_FILE"; exit 0
  fi
fi

resolve_pkg() {
  local deps
  deps=$(apt-cache depends linux-image-amd64 2>/dev/null || true)
  sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' <<< "$deps" | sed -n 1p
}
pkg=$(resolve_pkg)
if [[ -z "$pkg" ]]; then
  log "apt lists do not know linux-image-amd64; running apt-get update"
  as_root apt-get update >&2
  pkg=$(resolve_pkg)
fi
[[ -n "$pkg" ]] || die "cannot resolve linux-image-6.1.0-NN-amd64 from 'apt-cache depends linux-image-amd64'"
kver=${pkg#linux-image-}
kdir=$VM_CACHE/kernel/$kver

if [[ ! -f "$kdir/lib/modules/$kver/modules.dep" || ! -f "$kdir/boot/vmlinuz-$kver" ]]; then
  log "fetching $pkg"
  tmp=$(mktemp -d "$VM_CACHE/kernel/dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  chmod 0777 "$tmp"   # apt drops to the _apt user for downloads
  if ! (cd "$tmp" && apt-get download "$pkg" >&2); then
    # Stale lists name an ABI the mirror no longer has: refresh once and re-resolve.
    log "download failed; running apt-get update and retrying"
    as_root apt-get update >&2
    new_pkg=$(resolve_pkg)
    [[ -n "$new_pkg" ]] || die "cannot resolve the kernel package after apt-get update"
    if [[ "$new_pkg" != "$pkg" ]]; then
      pkg=$new_pkg kver=${new_pkg#linux-image-} kdir=$VM_CACHE/kernel/${new_pkg#linux-image-}
    fi
    (cd "$tmp" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
  fi
  deb=$(ls "$tmp"/*.deb)
  rm -rf "$kdir.partial"
  mkdir -p "$kdir.partial"
  dpkg-deb -x "$deb" "$kdir.partial"
  depmod -b "$kdir.partial" "$kver"
  rm -rf "$kdir"
  mv "$kdir.partial" "$kdir"
fi

cat > "$ENV_FILE.tmp" <<EOT
KVER=$kver
VMLINUZ=$kdir/boot/vmlinuz-$kver
MODDIR=$kdir/lib/modules/$kver
EOT
mv "$ENV_FILE.tmp" "$ENV_FILE"
log "kernel $kver ready in $kdir"
echo "$ENV_FILE"
