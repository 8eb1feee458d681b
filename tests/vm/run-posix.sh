#!/usr/bin/env bash
# Third-party POSIX suites (pjdfstest, fsx, fsstress; tests/vm/posix/) in a Linux 6.1 guest on a
# 9p mount of a fresh ext4 export, against one server, judged against an expected-failure list.
#
# usage: run-posix.sh (--server 'CMD' | --qemu-proxy HELPER | --qemu-local) [--label NAME]
#                     [--pjd full|subset|none] [--fsx N] [--fsstress N] [--xfail FILE]
#                     [--mount-opts a,b=c] [--timeout S] [--keep]
#
#   --server CMD       a 9P2000.L server over trans=tcp, as in run-tcp.sh ("{port}" and
#                      "{export}" replaced; run in its own session, its group stopped at the end)
#   --qemu-proxy H     unmodified QEMU 7.2 `-fsdev proxy` on helper H (socket mode, as run-proxy.sh)
#   --qemu-local       QEMU 7.2's own `-fsdev local,security_model=passthrough` (reference)
#   --pjd              pjdfstest: full (every file; the default), subset (tests/vm/posix/subset.txt),
#                      only:DIR+DIR (those test directories, e.g. only:chown+link) or none
#   --fsx N            fsx, N operations in each of its three modes (default 0: not run)
#   --fsstress N       fsstress, 4 processes x N operations (default 0)
#   --xfail FILE       expected failures (tests/vm/posix/*.xfail; see posix-check.py)
#   --mount-opts       extra 9p mount options (default: none, i.e. the kernel's access=client)
# Exit 0 only when every failure is listed and every listed case failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SERVER= HELPER= QLOCAL=0 LABEL=posix PJD=full FSX=0 FSS=0 XFAIL= MOPTS= TIMEOUT= KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --qemu-proxy) HELPER=$2; shift 2 ;;
    --qemu-local) QLOCAL=1; shift ;;
    --label) LABEL=$2; shift 2 ;;
    --pjd) PJD=$2; shift 2 ;;
    --fsx) FSX=$2; shift 2 ;;
    --fsstress) FSS=$2; shift 2 ;;
    --xfail) XFAIL=$2; shift 2 ;;
    --mount-opts) MOPTS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n "$SERVER$HELPER" || $QLOCAL == 1 ]] || die "one of --server, --qemu-proxy, --qemu-local"
[[ $(id -u) -eq 0 ]] || die "must run as root"
# TCG: the whole suite took 7-10 min of VM on an idle 2-CPU machine, 30+ on a loaded one
[[ -n "$TIMEOUT" ]] || TIMEOUT=$([[ $PJD == subset ]] && echo 900 || echo 3600)
vm_tools "$VM_DIR/posix/build-suites.sh"

vm_workdir p9proxy-posix
EXPORT=$WORK/export
mkdir -m 0755 "$EXPORT"
CONSOLE=$WORK/console.log
RESULTS=$WORK/results.log
SLOG=$WORK/server.log
spid= hpid=
cleanup() {
  [[ -z "$spid" ]] || stop_group "$spid"
  [[ -z "$hpid" ]] || { kill -9 "$hpid" 2>/dev/null || true; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ARGS=pjd=$PJD,fsx=$FSX,fsstress=$FSS
APPEND="console=ttyS0 quiet panic=-1 no_timer_check p9test=posix p9.args=$ARGS"
[[ -z "$MOPTS" ]] || APPEND+=" p9.opts=$MOPTS"
QEMU_ARGS=(-accel tcg -m 512 -nographic -nodefaults -no-reboot -no-user-config
  -kernel "$VMLINUZ" -initrd "$INITRD" -serial "file:$CONSOLE" -serial "file:$RESULTS")
if [[ -n "$SERVER" ]]; then
  PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cmd=${SERVER//\{port\}/$PORT}
  cmd=${cmd//\{export\}/$EXPORT}
  log "$LABEL: server: $cmd; work=$WORK"
  setsid bash -c "exec $cmd" > "$SLOG" 2>&1 < /dev/null &
  spid=$!
  wait_listening "$PORT" "$spid" || log "$LABEL: server is not listening on 127.0.0.1:$PORT (see $SLOG)"
  APPEND+=" p9.trans=tcp p9.port=$PORT p9.aname=$EXPORT"
  QEMU_ARGS+=(-netdev user,id=n -device virtio-net-pci,netdev=n)
elif [[ -n "$HELPER" ]]; then
  HELPER=$(realpath -e "$HELPER")
  log "$LABEL: QEMU -fsdev proxy on $HELPER; work=$WORK"
  "$HELPER" -p "$EXPORT" -s "$WORK/proxy.sock" -u 0 -g 0 -n > "$SLOG" 2>&1 &
  hpid=$!
  for _ in $(seq 1 100); do [[ -S "$WORK/proxy.sock" ]] && break; sleep 0.05; done
  APPEND+=" p9.trans=virtio p9.tag=share"
  QEMU_ARGS+=(-fsdev "proxy,id=f,socket=$WORK/proxy.sock" -device virtio-9p-pci,fsdev=f,mount_tag=share)
else
  log "$LABEL: QEMU -fsdev local,security_model=passthrough; work=$WORK"
  APPEND+=" p9.trans=virtio p9.tag=share"
  QEMU_ARGS+=(-fsdev "local,id=f,path=$EXPORT,security_model=passthrough"
    -device virtio-9p-pci,fsdev=f,mount_tag=share)
fi

start=$(date +%s.%N)
qrc=0
timeout -k 5 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -append "$APPEND" > "$WORK/qemu.out" 2>&1 || qrc=$?
elapsed=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
cleanup; spid= hpid=
log "$LABEL: VM finished in ${elapsed}s (qemu rc=$qrc)"
[[ $qrc -ne 124 && $qrc -ne 137 ]] || log "$LABEL: VM TIMED OUT after ${TIMEOUT}s"

rc=0
"$PY" "$VM_DIR/posix/posix-check.py" --results "$RESULTS" --label "$LABEL" \
  ${XFAIL:+--xfail "$XFAIL"} || rc=$?
finish_run "$rc" "$qrc" server/helper "$SLOG"
