#!/usr/bin/env bash
# End-to-end test of a 9P2000.L server over TCP with the Linux client in a QEMU VM: the same
# workload, export seeding and host checks as run-proxy.sh.
#
# usage: run-tcp.sh --server 'CMD ...' [--port N] [--export DIR] [--keep] [--timeout S]
#                   [--xfail FILE] [--workload NAME] [--label NAME] [--mount-opts a,b=c]
#
#   --server CMD   shell command that starts the server in the FOREGROUND; "{port}" and
#                  "{export}" are replaced (the export is an absolute path), e.g.
#                  'diod -f -n -L stderr -l 127.0.0.1:{port} -e {export}'
#                  It must listen on 127.0.0.1:{port}; the guest reaches it as 10.0.2.2
#                  through QEMU's user network and mounts with uname=root,aname={export}.
#   --port N       default: a free port
#   --workload W   proxy (default: guest/proxy-workload.sh, judged by host-check.py) or server
#                  (guest/server-workload.sh, judged by server-check.py; the export also gets
#                  seed-server.sh content, a host process holds a lock on srv/locked until the
#                  guest asks for its release, and the mount gets access=user unless
#                  --mount-opts sets an access= mode)
#                  identity (guest/identity-workload.sh: the guest's root must act as an
#                  untrusted QEMU user; host-check.py without the proxy workload's file checks)
#   --qemu-user U  run QEMU as uid:gid U:U (setpriv, no groups), as an unprivileged VM
#                  monitor: the server sees the guest's connections as that user
#   other options as in run-proxy.sh; --label names the scenario (default tcp)
# The server runs in its own session (setsid) and its whole process group is stopped at the
# end (TERM, then KILL after 5 s), so helpers it spawns cannot outlive the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SERVER= PORT= EXPORT= KEEP=0 TIMEOUT=${P9PROXY_VM_TIMEOUT:-120} XFAIL= WORKLOAD=proxy LABEL=tcp
MOPTS= QEMU_USER=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --export) EXPORT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --xfail) XFAIL=$2; shift 2 ;;
    --workload) WORKLOAD=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    --mount-opts) MOPTS=$2; shift 2 ;;
    --qemu-user) QEMU_USER=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n "$SERVER" ]] || die "--server CMD is required"
[[ $(id -u) -eq 0 ]] || die "must run as root"
vm_tools

if [[ -z "$PORT" ]]; then
  PORT=$(free_port)
fi
vm_workdir p9proxy-vm
[[ -n "$EXPORT" ]] || EXPORT=$WORK/export
mkdir -p "$EXPORT"
EXPORT=$(realpath "$EXPORT")
SECRET=$WORK/outside-secret
CONSOLE=$WORK/console.log
RESULTS=$WORK/results.log
SLOG=$WORK/server.log
spid= lpid=
cleanup() {
  [[ -z "$spid" ]] || stop_group "$spid"
  if [[ -n "$lpid" ]]; then kill "$lpid" 2>/dev/null || true; wait "$lpid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$VM_DIR/seed-export.sh" "$EXPORT" "$SECRET"
CHECKER=$VM_DIR/host-check.py
CHECK_ARGS=()
[[ "$WORKLOAD" != identity ]] || CHECK_ARGS+=(--no-file-checks)
ALLOW=(export outside-secret console.log results.log server.log qemu.out)
if [[ "$WORKLOAD" == server ]]; then
  "$VM_DIR/seed-server.sh" "$EXPORT"
  CHECKER=$VM_DIR/server-check.py
  ALLOW+=(lockhold.log)
  [[ ",$MOPTS," == *,access=* ]] || MOPTS=access=user${MOPTS:+,$MOPTS}
  "$PY" "$VM_DIR/lockhold.py" "$EXPORT/srv/locked" "$EXPORT/srv/lock-release" \
    "$((TIMEOUT + 30))" > "$WORK/lockhold.log" 2>&1 &
  lpid=$!
fi

cmd=${SERVER//\{port\}/$PORT}
cmd=${cmd//\{export\}/$EXPORT}
log "$LABEL: server: $cmd; work=$WORK"
setsid bash -c "exec $cmd" > "$SLOG" 2>&1 < /dev/null &
spid=$!

wait_listening "$PORT" "$spid" || log "$LABEL: server is not listening on 127.0.0.1:$PORT (see $SLOG)"

APPEND="console=ttyS0 quiet panic=-1 no_timer_check p9test=$WORKLOAD p9.trans=tcp p9.port=$PORT p9.aname=$EXPORT"
[[ -z "$MOPTS" ]] || APPEND+=" p9.opts=$MOPTS"
start=$(date +%s.%N)
qrc=0
AS=()
if [[ -n "$QEMU_USER" ]]; then
  # QEMU writes its serial logs itself: they must be its own.
  for f in "$CONSOLE" "$RESULTS"; do install -m 0644 -o "$QEMU_USER" -g "$QEMU_USER" /dev/null "$f"; done
  AS=(setpriv "--reuid=$QEMU_USER" "--regid=$QEMU_USER" --clear-groups)
fi
timeout -k 5 "$TIMEOUT" "${AS[@]}" "$QEMU" -accel tcg -m 512 -nographic -nodefaults -no-reboot \
  -no-user-config -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND" \
  -serial "file:$CONSOLE" -serial "file:$RESULTS" \
  -netdev user,id=n -device virtio-net-pci,netdev=n > "$WORK/qemu.out" 2>&1 || qrc=$?
elapsed=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
stop_group "$spid"
log "$LABEL: VM finished in ${elapsed}s (qemu rc=$qrc)"

rc=0
"$PY" "$CHECKER" --export "$EXPORT" --results "$RESULTS" --secret "$SECRET" \
  --workdir "$WORK" --workdir-allow "${ALLOW[@]}" ${XFAIL:+--xfail "$XFAIL"} --label "$LABEL" \
  "${CHECK_ARGS[@]}" || rc=$?
grep -h '^INFO' "$RESULTS" 2>/dev/null | tr -d '\r' | grep -v '^INFO section' \
  | sed "s/^/[$LABEL] /" >&2 || true
finish_run "$rc" "$qrc" server "$SLOG"
