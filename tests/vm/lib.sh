# Shared helpers for tests/vm/*.sh (sourced, not executed).
# shellcheck shell=bash

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$VM_DIR/../.." && pwd)
VM_CACHE=${P9PROXY_VM_CACHE:-$REPO_ROOT/.cache/vm}

log() { echo "[$(basename "$0")] $*" >&2; }
die() { echo "[$(basename "$0")] ERROR: $*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root for: $*"
  fi
}

# stop_group PID: TERM the process group PID leads (started with setsid), KILL it after 5 s.
stop_group() {
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# listening PORT: a LISTEN socket on 127.0.0.1:PORT exists (found without connecting: a server
# may serve only one connection).
listening() {
  python3 - "$1" <<'PYEOF'
import sys
port = "%04X" % int(sys.argv[1])
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for ln in open(f).readlines()[1:]:
            p = ln.split()
            if p[1].endswith(":" + port) and p[3] == "0A":
                sys.exit(0)
    except OSError:
        pass
sys.exit(1)
PYEOF
}

# wait_listening PORT PID [SECONDS]: wait up to SECONDS (default 5) for PORT to listen while
# PID lives.
wait_listening() {
  local i
  for i in $(seq 1 $((${3:-5} * 20))); do
    listening "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  listening "$1"
}

# free_port: a TCP port on 127.0.0.1 free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_tools [INITRAMFS_BUILDER]: QEMU and python3 are there (sets QEMU, PY), the guest kernel is
# fetched (its variables: VMLINUZ...) and the initramfs built (INITRD; default builder
# build-initramfs.sh).
vm_tools() {
  QEMU=${P9PROXY_QEMU:-qemu-system-x86_64}
  command -v "$QEMU" >/dev/null || die "$QEMU missing: run scripts/install-deps.sh"
  PY=$(command -v python3) || die "python3 missing: run scripts/install-deps.sh"
  local env_file
  env_file=$("$VM_DIR/fetch-kernel.sh")
  # shellcheck disable=SC1090
  . "$env_file"
  INITRD=$("${1:-$VM_DIR/build-initramfs.sh}")
}

# vm_workdir NAME: a fresh work directory WORK (mode 0755) under $TMPDIR.
vm_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  chmod 0755 "$WORK"
}

# finish_run RC QRC WHAT LOGFILE: a scenario's end. On failure (RC or QEMU's status QRC
# non-zero) prints the tails of QEMU's output, LOGFILE (the WHAT log: server, helper...) and
# the guest console, and keeps $WORK; otherwise removes $WORK unless $KEEP is 1. Exits
# with the scenario's status. Uses $LABEL, $WORK, $CONSOLE, $KEEP.
finish_run() {
  local rc=$1 qrc=$2 what=$3 logfile=$4
  if [[ $rc -ne 0 || $qrc -ne 0 ]]; then
    [[ $qrc -eq 0 ]] || { echo "FAIL vm: qemu exited with $qrc"; rc=1; }
    {
      echo "---- qemu output ----"; tail -n 20 "$WORK/qemu.out" 2>/dev/null
      echo "---- $what log ----"; tail -n 20 "$logfile" 2>/dev/null
      echo "---- console (tail) ----"; tail -n 40 "$CONSOLE" 2>/dev/null | tr -d '\r'
    } >&2
    log "$LABEL: FAILED; logs kept in $WORK"
  elif [[ $KEEP -eq 1 ]]; then
    log "$LABEL: passed; logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
