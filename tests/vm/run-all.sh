#!/usr/bin/env bash
# Run every VM end-to-end scenario and print "vm: N passed, M failed" as the last line.
#
# Scenarios: the proxy workload against the helper in socket mode and in fd mode.
# Environment:
#   P9PROXY_HELPER     helper binary (default: target/release/virtfs-proxy-helper, built with
#                      `cargo build --release --bin virtfs-proxy-helper` when missing);
#                      QEMU's C helper is /usr/lib/qemu/virtfs-proxy-helper
#   P9PROXY_VM_MODES   scenarios to run (default "socket fd"; "tcp-diod" adds a reference run
#                      of the same workload against diod over TCP)
#   P9PROXY_VM_JOBS    VMs run at once (default 2 when the machine has >= 2 cores)
#   P9PROXY_VM_XFAIL   known-failures file passed to run-proxy.sh --xfail
#   P9PROXY_VM_KEEP=1  keep every run's work directory
#   P9PROXY_VM_CACHE   kernel/initramfs cache (default <repo>/.cache/vm)
# Needs root and the packages of scripts/install-deps.sh; the kernel is fetched on demand.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

MODES=${P9PROXY_VM_MODES:-socket fd}
JOBS=${P9PROXY_VM_JOBS:-$(( $(nproc) >= 2 ? 2 : 1 ))}
HELPER=${P9PROXY_HELPER:-}
if [[ -z "$HELPER" ]]; then
  HELPER=$REPO_ROOT/target/release/virtfs-proxy-helper
  if [[ ! -x "$HELPER" ]] && command -v cargo >/dev/null; then
    log "building $HELPER"
    (cd "$REPO_ROOT" && cargo build --release --bin virtfs-proxy-helper >&2) || true
  fi
fi

scenarios=()
for m in $MODES; do
  case "$m" in socket|fd) scenarios+=("proxy-$m") ;; *) scenarios+=("$m") ;; esac
done
passed=0 failed=0
t0=$(date +%s)

if [[ ! -x "$HELPER" ]]; then
  echo "FAIL: helper $HELPER not found or not executable (set P9PROXY_HELPER)"
  echo "vm: 0 passed, ${#scenarios[@]} failed"
  exit 1
fi

# Prepare the shared cache once, before VMs run in parallel.
if ! "$VM_DIR/fetch-kernel.sh" >/dev/null || ! "$VM_DIR/build-initramfs.sh" >/dev/null; then
  echo "FAIL: could not prepare the guest kernel/initramfs"
  echo "vm: 0 passed, ${#scenarios[@]} failed"
  exit 1
fi

outdir=$(mktemp -d "${TMPDIR:-/tmp}/p9proxy-vm-all.XXXXXX")
trap 'rm -rf "$outdir"' EXIT
extra=()
[[ -n "${P9PROXY_VM_XFAIL:-}" ]] && extra+=(--xfail "$P9PROXY_VM_XFAIL")
[[ -n "${P9PROXY_VM_KEEP:-}" ]] && extra+=(--keep)

run_one() { # run_one SCENARIO
  case "$1" in
    proxy-*)
      bash "$VM_DIR/run-proxy.sh" --helper "$HELPER" --mode "${1#proxy-}" "${extra[@]}" ;;
    tcp-diod)  # reference run of the same workload against diod over TCP (not by default)
      bash "$VM_DIR/run-tcp.sh" --label tcp-diod --xfail "$VM_DIR/diod.xfail" \
        --server 'diod -f -n -L stderr -l 127.0.0.1:{port} -e {export}' \
        ${P9PROXY_VM_KEEP:+--keep} ;;
    *) echo "unknown scenario $1"; false ;;
  esac > "$outdir/$1.out" 2>&1
  echo $? > "$outdir/$1.rc"
}

log "helper: $HELPER; scenarios: ${scenarios[*]}; jobs: $JOBS"
running=0
for s in "${scenarios[@]}"; do
  run_one "$s" &
  running=$((running + 1))
  if [[ $running -ge $JOBS ]]; then wait -n; running=$((running - 1)); fi
done
wait

for s in "${scenarios[@]}"; do
  echo "==== $s ===="
  cat "$outdir/$s.out"
  if [[ "$(cat "$outdir/$s.rc" 2>/dev/null)" == 0 ]]; then
    passed=$((passed + 1)); echo "==== $s: PASS"
  else
    failed=$((failed + 1)); echo "==== $s: FAIL"
  fi
done
echo "(${MODES// /+} with $HELPER in $(( $(date +%s) - t0 )) s)"
echo "vm: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
