#!/usr/bin/env bash
# Run every VM end-to-end scenario and print "vm: N passed, M failed" as the last line.
#
# Scenarios (P9PROXY_VM_MODES picks them; DEFAULT_MODES below when unset):
#   socket, fd      the proxy workload against the helper (QEMU's virtfs-proxy-helper protocol)
#                   in socket mode and in fd mode
#   tcp-local       our 9P server (`p9proxy serve --backend local`) over TCP with the server
#                   workload (guest/server-workload.sh, access=user, msize 1 MiB)
#   tcp-proxy       the same with `--backend proxy` (privilege-separated)
#   tcp-qemu-trusted    QEMU run as an unprivileged user (uid 64000) that the server trusts
#                   (--allow-user): the proxy workload (chown, mknod, modes as root) passes
#   tcp-qemu-untrusted  the same user, not trusted: the guest's root acts as that user on
#                   the host (guest/identity-workload.sh: its chown, mknod... are refused)
#   diodcli-local   Debian's diodls/diodcat against our server (tests/diod/run.sh), no VM
#   diodcli-proxy   the same with the proxy backend
#   mapped-xattr    one export written and read in turn by our unprivileged server
#                   (--security-model mapped-xattr) and QEMU 7.2's own local backend
#                   (security_model=mapped-xattr), three boots (tests/vm/run-mapped.sh)
#   posix-proxy     pjdfstest (every file), fsx (3 modes) and fsstress in the guest against
#                   `p9proxy serve --backend proxy` over TCP, the kernel's default access=client
#                   (tests/vm/run-posix.sh; expected failures: tests/vm/posix/posix-proxy.xfail)
#   posix-local     pjdfstest's subset (tests/vm/posix/subset.txt) on --backend local
#   posix-qemu      the subset through unmodified QEMU 7.2 `-fsdev proxy` on our helper
#   posix-user      the subset on --backend proxy with access=user
#   posix-qemu-local, posix-diod   reference runs (not by default): QEMU's own local backend
#                   (security_model=passthrough) and diod, same workload as posix-proxy
#   reference runs against diod (with its known failures as XFAIL):
#   tcp-diod        the proxy workload over TCP      server-diod   the server workload
#   diodcli-diod    diodls/diodcat
# Environment:
#   P9PROXY_HELPER     helper binary (default: target/release/virtfs-proxy-helper, built with
#                      `cargo build --release --bin virtfs-proxy-helper` when missing);
#                      QEMU's C helper is /usr/lib/qemu/virtfs-proxy-helper
#   P9PROXY_SERVER     our 9P server binary (default: target/release/p9proxy, built with
#                      `cargo build --release --bin p9proxy` when missing and asked for)
#   P9PROXY_VM_MODES   scenarios to run (default: DEFAULT_MODES)
#   P9PROXY_VM_JOBS    scenarios run at once (default 2 when the machine has >= 2 cores)
#   P9PROXY_VM_XFAIL   known-failures file passed to run-proxy.sh --xfail
#   P9PROXY_VM_KEEP=1  keep every run's work directory
#   P9PROXY_VM_CACHE   kernel/initramfs cache (default <repo>/.cache/vm)
#   P9PROXY_POSIX_PJD  pjdfstest selection of every posix-* scenario instead of its own
#                      (full, subset, only:DIR+DIR, none), e.g. full for the by-hand runs
#   P9PROXY_VM_TIMEOUT hard limit per proxy-workload VM (default 120 s; server-workload VMs
#                      get at least 300 s)
# Needs root and the packages of scripts/install-deps.sh; the kernel is fetched on demand.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# The scenarios of a plain run. Our 9P server's scenarios (tcp-local tcp-proxy diodcli-local
# diodcli-proxy) join them once `p9proxy serve` passes them.
DEFAULT_MODES="posix-proxy socket fd tcp-local tcp-proxy diodcli-local diodcli-proxy mapped-xattr tcp-qemu-trusted tcp-qemu-untrusted posix-local posix-qemu posix-user"
MODES=${P9PROXY_VM_MODES:-$DEFAULT_MODES}
JOBS=${P9PROXY_VM_JOBS:-$(( $(nproc) >= 2 ? 2 : 1 ))}
SRV_TIMEOUT=$(( ${P9PROXY_VM_TIMEOUT:-120} > 300 ? ${P9PROXY_VM_TIMEOUT:-120} : 300 ))

scenarios=()
for m in $MODES; do
  case "$m" in socket|fd) scenarios+=("proxy-$m") ;; *) scenarios+=("$m") ;; esac
done
passed=0 failed=0
t0=$(date +%s)
wants() { [[ " ${scenarios[*]} " =~ \ ($1)\  ]]; }

HELPER=${P9PROXY_HELPER:-}
if wants 'proxy-socket|proxy-fd|posix-qemu'; then
  if [[ -z "$HELPER" ]]; then
    HELPER=$REPO_ROOT/target/release/virtfs-proxy-helper
    if [[ ! -x "$HELPER" ]] && command -v cargo >/dev/null; then
      log "building $HELPER"
      (cd "$REPO_ROOT" && cargo build --release --bin virtfs-proxy-helper >&2) || true
    fi
  fi
  if [[ ! -x "$HELPER" ]]; then
    echo "FAIL: helper $HELPER not found or not executable (set P9PROXY_HELPER)"
    echo "vm: 0 passed, ${#scenarios[@]} failed"
    exit 1
  fi
fi
SERVER_BIN=${P9PROXY_SERVER:-}
if wants 'tcp-local|tcp-proxy|diodcli-local|diodcli-proxy|mapped-xattr|tcp-qemu-trusted|tcp-qemu-untrusted|posix-proxy|posix-local|posix-user'; then
  if [[ -z "$SERVER_BIN" ]]; then
    SERVER_BIN=$REPO_ROOT/target/release/p9proxy
    if [[ ! -x "$SERVER_BIN" ]] && command -v cargo >/dev/null; then
      log "building $SERVER_BIN"
      (cd "$REPO_ROOT" && cargo build --release --bin p9proxy >&2) || true
    fi
  fi
  # a missing server fails only its own scenarios (each says why)
  [[ -x "$SERVER_BIN" ]] || log "server $SERVER_BIN not found or not executable (set P9PROXY_SERVER)"
fi

# Prepare the shared cache once, before VMs run in parallel.
posix_build=true
wants 'posix-[a-z-]+' && posix_build="$VM_DIR/posix/build-suites.sh"
if ! "$VM_DIR/fetch-kernel.sh" >/dev/null || ! "$VM_DIR/build-initramfs.sh" >/dev/null ||
  ! $posix_build >/dev/null; then
  echo "FAIL: could not prepare the guest kernel/initramfs"
  echo "vm: 0 passed, ${#scenarios[@]} failed"
  exit 1
fi

outdir=$(mktemp -d "${TMPDIR:-/tmp}/p9proxy-vm-all.XXXXXX")
trap 'rm -rf "$outdir"' EXIT
extra=()
[[ -n "${P9PROXY_VM_XFAIL:-}" ]] && extra+=(--xfail "$P9PROXY_VM_XFAIL")
[[ -n "${P9PROXY_VM_KEEP:-}" ]] && extra+=(--keep)

# The uid an unprivileged VM monitor runs as in the tcp-qemu-* scenarios.
QEMU_UID=64000
DIOD_CMD='diod -f -n -L stderr -l 127.0.0.1:{port} -e {export}'
our_server() { # our_server BACKEND: the server command for run-tcp.sh / tests/diod/run.sh
  if [[ ! -x "$SERVER_BIN" ]]; then
    echo "FAIL: server $SERVER_BIN not found or not executable (build it with" \
      "cargo build --release --bin p9proxy, or set P9PROXY_SERVER)" >&2
    return 1
  fi
  echo "$(printf '%q' "$SERVER_BIN") serve {export} --listen tcp:127.0.0.1:{port} --backend $1"
}
posix() { # posix SCENARIO PJD ARGS...: tests/vm/run-posix.sh with the scenario's own xfail list
  local label=$1 pjd=${P9PROXY_POSIX_PJD:-$2}
  shift 2
  bash "$VM_DIR/run-posix.sh" --label "$label" --pjd "$pjd" \
    --xfail "$VM_DIR/posix/$label.xfail" "$@" ${P9PROXY_VM_KEEP:+--keep}
}
run_one() { # run_one SCENARIO
  local s0 cmd
  s0=$(date +%s)
  case "$1" in
    proxy-*)
      bash "$VM_DIR/run-proxy.sh" --helper "$HELPER" --mode "${1#proxy-}" "${extra[@]}" ;;
    tcp-local|tcp-proxy)
      cmd=$(our_server "${1#tcp-}") &&
      bash "$VM_DIR/run-tcp.sh" --label "$1" --workload server --server "$cmd" \
        --mount-opts access=user,msize=1048576 --timeout "$SRV_TIMEOUT" \
        ${P9PROXY_VM_KEEP:+--keep} ;;
    diodcli-local|diodcli-proxy)
      cmd=$(our_server "${1#diodcli-}") &&
      bash "$REPO_ROOT/tests/diod/run.sh" --label "$1" --server "$cmd" \
        --xfail "$REPO_ROOT/tests/diod/ours.xfail" ${P9PROXY_VM_KEEP:+--keep} ;;
    mapped-xattr)
      [[ -x "$SERVER_BIN" ]] || { echo "FAIL: server $SERVER_BIN not found"; false; } &&
      bash "$VM_DIR/run-mapped.sh" --server "$SERVER_BIN" ${P9PROXY_VM_KEEP:+--keep} ;;
    tcp-qemu-trusted)  # QEMU as an unprivileged user the server trusts (--allow-user)
      cmd="$(our_server proxy) --allow-user $QEMU_UID" &&
      bash "$VM_DIR/run-tcp.sh" --label "$1" --server "$cmd" --qemu-user "$QEMU_UID" \
        ${P9PROXY_VM_KEEP:+--keep} ;;
    tcp-qemu-untrusted)  # the same user, not trusted: the guest's root acts as it
      cmd=$(our_server proxy) &&
      bash "$VM_DIR/run-tcp.sh" --label "$1" --server "$cmd" --qemu-user "$QEMU_UID" \
        --workload identity ${P9PROXY_VM_KEEP:+--keep} ;;
    posix-proxy)  # the whole of pjdfstest, fsx and fsstress
      cmd=$(our_server proxy) && posix "$1" full --server "$cmd" --fsx 10000 --fsstress 1000 ;;
    posix-local)
      cmd=$(our_server local) && posix "$1" subset --server "$cmd" ;;
    posix-user)
      cmd=$(our_server proxy) && posix "$1" subset --server "$cmd" --mount-opts access=user ;;
    posix-qemu)
      posix "$1" subset --qemu-proxy "$HELPER" ;;
    posix-qemu-local)  # reference (not by default)
      posix "$1" full --qemu-local --fsx 10000 --fsstress 1000 ;;
    posix-diod)  # reference (not by default)
      posix "$1" full --server "$DIOD_CMD" --fsx 10000 --fsstress 1000 ;;
    tcp-diod)  # reference run of the proxy workload against diod over TCP (not by default)
      bash "$VM_DIR/run-tcp.sh" --label tcp-diod --xfail "$VM_DIR/diod.xfail" \
        --server "$DIOD_CMD" ${P9PROXY_VM_KEEP:+--keep} ;;
    server-diod)  # reference run of the server workload against diod (not by default)
      bash "$VM_DIR/run-tcp.sh" --label server-diod --workload server \
        --xfail "$VM_DIR/diod-server.xfail" --server "$DIOD_CMD" --timeout "$SRV_TIMEOUT" \
        ${P9PROXY_VM_KEEP:+--keep} ;;
    diodcli-diod)  # reference run of the diodls/diodcat test against diod (not by default)
      bash "$REPO_ROOT/tests/diod/run.sh" --diod ${P9PROXY_VM_KEEP:+--keep} ;;
    *) echo "unknown scenario $1"; false ;;
  esac > "$outdir/$1.out" 2>&1
  echo $? > "$outdir/$1.rc"
  echo $(( $(date +%s) - s0 )) > "$outdir/$1.time"
}

log "scenarios: ${scenarios[*]}; jobs: $JOBS${HELPER:+; helper: $HELPER}${SERVER_BIN:+; server: $SERVER_BIN}"
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
  took="$(cat "$outdir/$s.time" 2>/dev/null || echo '?') s"
  if [[ "$(cat "$outdir/$s.rc" 2>/dev/null)" == 0 ]]; then
    passed=$((passed + 1)); echo "==== $s: PASS ($took)"
  else
    failed=$((failed + 1)); echo "==== $s: FAIL ($took)"
  fi
done
echo "(${MODES// /+}${HELPER:+ with $HELPER}${SERVER_BIN:+, server $SERVER_BIN} in $(( $(date +%s) - t0 )) s)"
echo "vm: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
