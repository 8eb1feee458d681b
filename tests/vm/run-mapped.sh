#!/usr/bin/env bash
# End-to-end interoperability of the mapped-xattr security model: one export, written and read
# in turn by our server and by unmodified QEMU 7.2, both running unprivileged (uid 65534).
#
#   boot 1: our `p9proxy serve --security-model mapped-xattr` (as nobody) over trans=tcp; the
#           guest (access=user) creates files, a directory, char and block devices, a FIFO, a
#           symlink and a setuid file as root and uids 1000/2000 (prefix a), checks them, and
#           checks the user.virtfs.* xattrs are out of its reach;
#   host:   tests/vm/mapped-check.py: the xattrs hold exactly QEMU's bytes;
#   boot 2: QEMU's own `-fsdev local,security_model=mapped-xattr` on the same export (virtio):
#           the guest sees prefix a the same, and creates prefix b as uids 3000/4000;
#   host:   prefix b's xattrs (written by QEMU) pass the same check;
#   boot 3: our server again: the guest sees QEMU's prefix b (and a) right.
#
# usage: run-mapped.sh [--server BIN] [--keep] [--timeout S]
# Prints CHECK lines and "PASS mapped-xattr" or "FAIL ..."; exit status 0 on success.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SERVER_BIN=${P9PROXY_SERVER:-$REPO_ROOT/target/release/p9proxy} KEEP=0 TIMEOUT=120
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) SERVER_BIN=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $(id -u) -eq 0 ]] || die "must run as root (it drops to uid 65534 for the servers)"
[[ -x "$SERVER_BIN" ]] || die "server $SERVER_BIN not found (cargo build --release --bin p9proxy)"
NOBODY=65534
AS_NOBODY=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups)
vm_tools

vm_workdir p9proxy-mapped
EXPORT=$WORK/export
mkdir "$EXPORT"
chown $NOBODY:$NOBODY "$EXPORT"
# QEMU runs as nobody: its kernel, initramfs and serial files must be reachable.
install -m 0644 "$VMLINUZ" "$WORK/vmlinuz"
install -m 0644 "$INITRD" "$WORK/initrd"
spid=
cleanup() {
  if [[ -n "$spid" ]]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
  if [[ $KEEP -eq 0 && $rc -eq 0 ]]; then rm -rf "$WORK"; else log "work directory kept: $WORK"; fi
}
rc=1
trap cleanup EXIT

start_ours() {
  PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${AS_NOBODY[@]}" "$SERVER_BIN" serve "$EXPORT" --security-model mapped-xattr \
    --listen "tcp:127.0.0.1:$PORT" > "$WORK/server-$1.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 100); do
    grep -q "serving" "$WORK/server-$1.log" 2>/dev/null && return 0
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
  done
  log "server did not start: $(cat "$WORK/server-$1.log")"
  return 1
}
stop_ours() { kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=; }

fails=0
# boot NAME STEPS QEMU-ARGS...: one VM running the workload's STEPS (comma-separated).
boot() {
  local name=$1 steps=$2 append
  shift 2
  local res=$WORK/results-$name.log con=$WORK/console-$name.log
  : > "$res"; : > "$con"
  chown $NOBODY "$res" "$con"
  append="console=ttyS0 quiet panic=-1 no_timer_check p9test=mapped p9.args=$steps p9.opts=access=user"
  local t0 qrc=0
  t0=$(date +%s.%N)
  timeout -k 5 "$TIMEOUT" "${AS_NOBODY[@]}" "$QEMU" -accel tcg -m 512 -nographic -nodefaults \
    -no-reboot -no-user-config -kernel "$WORK/vmlinuz" -initrd "$WORK/initrd" \
    -append "$append $*" -serial "file:$con" -serial "file:$res" "${QARGS[@]}" \
    > "$WORK/qemu-$name.out" 2>&1 || qrc=$?
  log "$name: VM finished in $(echo "$t0 $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')s (qemu rc=$qrc)"
  tr -d '\r' < "$res" | grep -E '^(CHECK|INFO [^s]|SUMMARY)' | sed "s/^/[$name] /"
  if [[ $qrc -ne 0 ]] || ! tr -d '\r' < "$res" | grep -q '^SUMMARY passed=[1-9][0-9]* failed=0$' \
      || tr -d '\r' < "$res" | grep -q '^CHECK FAIL'; then
    echo "FAIL $name (see $con, $WORK/qemu-$name.out)"
    tail -n 30 "$con" | tr -d '\r' >&2
    fails=$((fails + 1))
  fi
}
host_check() { "$PY" "$VM_DIR/mapped-check.py" "$EXPORT" "$@" || fails=$((fails + 1)); }

# Boot 1: ours writes prefix a.
start_ours 1
QARGS=(-netdev user,id=n -device virtio-net-pci,netdev=n)
boot ours-1 write:a:1000:2000,verify:a:1000:2000,hidden p9.trans=tcp "p9.port=$PORT" \
  "p9.aname=$EXPORT"
stop_ours
host_check a 1000 2000 ours

# Boot 2: QEMU's local backend reads prefix a and writes prefix b.
QARGS=(-fsdev "local,id=f,path=$EXPORT,security_model=mapped-xattr"
       -device virtio-9p-pci,fsdev=f,mount_tag=share)
boot qemu verify:a:1000:2000,write:b:3000:4000,verify:b:3000:4000,hidden p9.trans=virtio
host_check b 3000 4000 qemu

# Boot 3: ours reads what QEMU wrote.
start_ours 3
QARGS=(-netdev user,id=n -device virtio-net-pci,netdev=n)
boot ours-3 verify:b:3000:4000,verify:a:1000:2000,hidden p9.trans=tcp "p9.port=$PORT" \
  "p9.aname=$EXPORT"
stop_ours

if [[ $fails -eq 0 ]]; then
  echo "PASS mapped-xattr (ours -> QEMU 7.2 -> ours on one export, all unprivileged)"
  rc=0
else
  echo "FAIL mapped-xattr: $fails part(s) failed; logs in $WORK"
  KEEP=1
fi
exit $rc
