#!/usr/bin/env bash
# Install the host packages the VM end-to-end tests (tests/vm/) need, on Debian 12 (bookworm).
#
# Idempotent: when every package is already present (and QEMU is the 7.2 line, the last with
# the 9p "proxy" backend) it prints one line and exits without touching apt. Otherwise it runs
# `apt-get update` once and installs what is missing. Must run as root (or via sudo).
#
# The guest kernel is NOT installed here: tests/vm/fetch-kernel.sh downloads and unpacks it
# into a cache directory on demand.
set -euo pipefail

# package=version-glob pairs; an empty glob means "any version".
PKGS=(
  "qemu-system-x86=1:7.2*"   # proxy fsdev backend: deprecated in 8.1, removed in 9.2
  "qemu-system-common=1:7.2*" # ships /usr/lib/qemu/virtfs-proxy-helper (the C reference helper)
  "busybox-static="          # guest userland
  "diod="                    # reference 9P2000.L server + client tools
  "kmod="                    # depmod for the unpacked guest kernel modules
  "cpio="                    # initramfs packing
  "gzip="
  "attr="                    # getfattr/setfattr for host-side checks
  "gcc="                     # static guest tool
  "libc6-dev="                # static glibc: p9t, pjdfstest, fsx, fsstress (tests/vm/posix/)
  "xfslibs-dev=6.1*"         # <xfs/xfs.h> for xfstests' fsstress (headers only; pulls uuid-dev)
  "python3="                 # socketpair for --mode fd
  "coreutils="               # timeout, stat, sha256sum
  "dpkg="                    # dpkg-deb -x for the kernel
  "systemd="                 # systemd-socket-activate, systemd-analyze verify (packaging tests)
  "dpkg-dev="                # dpkg-shlibdeps: cargo deb's Depends: $auto
)

missing=()
for entry in "${PKGS[@]}"; do
  name=${entry%%=*}
  glob=${entry#*=}
  status=$(dpkg-query -W -f='${Status}|${Version}' "$name" 2>/dev/null || true)
  if [[ "${status%%|*}" != "install ok installed" ]]; then
    missing+=("$entry"); continue
  fi
  ver=${status#*|}
  # shellcheck disable=SC2053
  if [[ -n "$glob" && "$ver" != $glob ]]; then
    missing+=("$entry")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi

# apt-get wants name=version or plain name.
args=()
for entry in "${missing[@]}"; do
  if [[ "$entry" == *= ]]; then args+=("${entry%=}"); else args+=("$entry"); fi
done
echo "install-deps: installing ${args[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${args[@]}"
echo "install-deps: done"
