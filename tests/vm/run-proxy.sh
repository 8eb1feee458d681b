#!/usr/bin/env bash
# End-to-end test of a 9p proxy helper with a real Linux 9p client in a QEMU 7.2 VM.
#
# usage: run-proxy.sh --helper PATH [--mode socket|fd] [--export DIR] [--keep] [--timeout S]
#                     [--xfail FILE] [--workload NAME]
#
#   --helper PATH  helper binary, invoked like QEMU's virtfs-proxy-helper:
#                    socket mode: PATH -p EXPORT -s SOCK -u 0 -g 0 -n
#                    fd mode:     PATH -f N -p EXPORT -n   (QEMU gets sock_fd=M, a socketpair)
#   --export DIR   export directory to create (must be absent or empty); default: a fresh one
#                  inside the run's work directory
#   --keep         keep the work directory (logs, export) even when everything passed
#   --timeout S    hard limit for the VM (default 120)
#   --xfail FILE   known failures ("guest NAME" / "host NAME" per line) reported as XFAIL
#   --workload N   guest workload (default proxy = tests/vm/guest/proxy-workload.sh)
#
# Boots the cached Debian 6.1 kernel (fetch-kernel.sh) with the test initramfs
# (build-initramfs.sh), runs the workload on the share, then checks the export from the host
# (host-check.py). Exit 0 only if every guest and host check passed. Needs root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HELPER= MODE=socket EXPORT= KEEP=0 TIMEOUT=${P9PROXY_VM_TIMEOUT:-120} XFAIL= WORKLOAD=proxy
while [[ $# -gt 0 ]]; do
  case "$1" in
    --helper) HELPER=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --export) EXPORT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --xfail) XFAIL=$2; shift 2 ;;
    --workload) WORKLOAD=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n "$HELPER" ]] || die "--helper PATH is required"
[[ "$MODE" == socket || "$MODE" == fd ]] || die "--mode must be socket or fd"
HELPER=$(realpath -e "$HELPER" 2>/dev/null) || die "helper not found: $HELPER"
[[ -x "$HELPER" ]] || die "helper not executable: $HELPER"
[[ $(id -u) -eq 0 ]] || die "must run as root (the helper needs it, and so do the host checks)"
vm_tools

vm_workdir p9proxy-vm
if [[ -z "$EXPORT" ]]; then EXPORT=$WORK/export; fi
mkdir -p "$EXPORT"
EXPORT=$(realpath "$EXPORT")
SECRET=$WORK/outside-secret
SOCK=$WORK/proxy.sock
CONSOLE=$WORK/console.log
RESULTS=$WORK/results.log
HLOG=$WORK/helper.log
HSTATUS=$WORK/helper.status
"$VM_DIR/seed-export.sh" "$EXPORT" "$SECRET"

LABEL="proxy-$MODE"
log "$LABEL: helper=$HELPER work=$WORK"

APPEND="console=ttyS0 quiet panic=-1 no_timer_check p9test=$WORKLOAD p9.trans=virtio p9.tag=share"
QEMU_ARGS=(-accel tcg -m 512 -nographic -nodefaults -no-reboot -no-user-config
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND"
  -serial "file:$CONSOLE" -serial "file:$RESULTS"
  -device virtio-9p-pci,fsdev=f,mount_tag=share)

start=$(date +%s.%N)
qrc=0
if [[ "$MODE" == socket ]]; then
  "$HELPER" -p "$EXPORT" -s "$SOCK" -u 0 -g 0 -n > "$HLOG" 2>&1 &
  hpid=$!
  trap 'kill -9 "$hpid" 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM
  for _ in $(seq 1 100); do
    [[ -S "$SOCK" ]] && break
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ ! -S "$SOCK" ]]; then
    log "helper did not create $SOCK"; cat "$HLOG" >&2 || true
    kill "$hpid" 2>/dev/null || true
  fi
  timeout -k 5 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -fsdev "proxy,id=f,socket=$SOCK" \
    > "$WORK/qemu.out" 2>&1 || qrc=$?
  # The helper serves one connection and should exit once QEMU is gone.
  for _ in $(seq 1 100); do kill -0 "$hpid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$hpid" 2>/dev/null; then
    echo "run-proxy: helper still running 10 s after QEMU exited: killed" >> "$HLOG"
    kill -9 "$hpid" 2>/dev/null || true
  fi
  hrc=0; wait "$hpid" || hrc=$?
  echo "$hrc" > "$HSTATUS"
else
  timeout -k 5 "$((TIMEOUT + 15))" "$PY" "$VM_DIR/fdpair.py" "$HLOG" "$HSTATUS" \
    "$HELPER" -f '{fd}' -p "$EXPORT" -n --- \
    timeout -k 5 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -fsdev 'proxy,id=f,sock_fd={fd}' \
    > "$WORK/qemu.out" 2>&1 || qrc=$?
fi
elapsed=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
log "$LABEL: VM finished in ${elapsed}s (qemu rc=$qrc, helper rc=$(cat "$HSTATUS" 2>/dev/null || echo '?'))"
if [[ $qrc -eq 124 || $qrc -eq 137 ]]; then log "$LABEL: VM TIMED OUT after ${TIMEOUT}s"; fi

rc=0
"$PY" "$VM_DIR/host-check.py" --export "$EXPORT" --results "$RESULTS" --secret "$SECRET" \
  --workdir "$WORK" --workdir-allow export outside-secret proxy.sock console.log results.log \
  helper.log helper.status qemu.out \
  ${XFAIL:+--xfail "$XFAIL"} --label "$LABEL" || rc=$?
grep -h '^INFO' "$RESULTS" 2>/dev/null | tr -d '\r' | grep -v '^INFO section' \
  | sed "s/^/[$LABEL] /" >&2 || true
finish_run "$rc" "$qrc" helper "$HLOG"
