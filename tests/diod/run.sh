#!/usr/bin/env bash
# Debian's diodls/diodcat (a 9P2000.L client no one here wrote) against a 9P server on loopback:
# list directories and read files of a seeded export, compare with the host's view.
#
# usage: tests/diod/run.sh [--backend local|proxy] [--server 'CMD {port} {export}'] [--diod]
#                          [--label NAME] [--keep] [--timeout S]
#
#   default      our server: $P9PROXY_SERVER (default target/release/p9proxy)
#                  serve {export} --listen tcp:127.0.0.1:{port} --backend BACKEND
#   --backend B  backend of our server (default proxy)
#   --server CMD any server command running in the foreground; {port} and {export} (absolute)
#                are replaced; it must listen on 127.0.0.1:{port}
#   --diod       validate this test against diod itself:
#                  diod -f -n -L stderr -l 127.0.0.1:{port} -e {export}
#                with diod's known failures (tests/diod/diod.xfail) reported as XFAIL
#   --xfail FILE known failures, one check name per line (ours: tests/diod/ours.xfail)
#   --keep       keep the work directory (export, server log)
#   --timeout S  hard limit for the whole client run (default 120 s); every client call also
#                has its own limit
#
# Prints one line per failing check and a closing "LABEL: N passed, M failed"; exit 0 only when
# every check passed. Needs root (the export has files of several owners, and our server's
# proxy backend must start as root). Uses only 127.0.0.1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# log, die, free_port, wait_listening, stop_group, vm_workdir, REPO_ROOT
# shellcheck source=../vm/lib.sh
. "$HERE/../vm/lib.sh"

BACKEND=proxy SERVER= LABEL= KEEP=0 TIMEOUT=120 XFAIL=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backend) BACKEND=$2; shift 2 ;;
    --server) SERVER=$2; shift 2 ;;
    --diod) SERVER='diod -f -n -L stderr -l 127.0.0.1:{port} -e {export}'; LABEL=${LABEL:-diodcli-diod}
      XFAIL=${XFAIL:-$HERE/diod.xfail}; shift ;;
    --xfail) XFAIL=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $(id -u) -eq 0 ]] || die "must run as root"
for t in diodls diodcat python3 setsid timeout; do
  command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh (package diod)"
done
if [[ -z "$SERVER" ]]; then
  [[ "$BACKEND" == local || "$BACKEND" == proxy ]] || die "--backend must be local or proxy"
  BIN=${P9PROXY_SERVER:-$REPO_ROOT/target/release/p9proxy}
  [[ -x "$BIN" ]] || die "server binary $BIN missing (cargo build --release -p p9proxy, or set P9PROXY_SERVER)"
  SERVER="$(printf '%q' "$BIN") serve {export} --listen tcp:127.0.0.1:{port} --backend $BACKEND"
  LABEL=${LABEL:-diodcli-$BACKEND}
fi
LABEL=${LABEL:-diodcli}

vm_workdir p9proxy-diodcli
EXPORT=$WORK/export
SLOG=$WORK/server.log
spid=
rc=1
cleanup() {
  [[ -z "$spid" ]] || stop_group "$spid"
  if [[ $KEEP -eq 1 || $rc -ne 0 ]]; then log "$LABEL: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- export ------------------------------------------------------------------------------
mkdir -p "$EXPORT"
chmod 0755 "$EXPORT"
echo "HOST-SECRET-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" > "$WORK/outside-secret"
python3 - "$EXPORT" <<'EOF'
import os, random, socket, sys
ex = sys.argv[1]
rnd = random.Random(9)
def put(rel, data, mode=0o644, owner=None):
    p = os.path.join(ex, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
    if owner:
        os.chown(p, *owner)
put("hello.txt", b"hello, 9p\n")
put("empty", b"")
put("allbytes", bytes(range(256)) * 17)
put("big.bin", rnd.randbytes(6 * 1024 * 1024 + 4321))          # multi-MiB, odd size
for n in (8192 - 24, 8192 - 23, 65536 - 24, 65536 - 23, 65536 + 1, 1048576 - 24, 1048576 + 7):
    put(f"edge/{n}", rnd.randbytes(n))                            # around msize - IOHDRSZ
put("sub/deeper/deepest/leaf", b"leaf\n")
put("sub/x", b"x\n", 0o600, (1000, 1000))
put("private", b"root only\n", 0o600)
put("odd names/sp ace", b"space\n")
put("odd names/\u00fcn\u00ef", b"utf8\n")
put("odd names/-dash", b"dash\n")
put("owned/by4321", b"o\n", 0o640, (4321, 4322))
os.makedirs(os.path.join(ex, "many"))
for i in range(2000):
    open(os.path.join(ex, "many", f"entry-{i:05d}-with-a-long-name-for-several-replies"), "w").close()
os.mkdir(os.path.join(ex, "emptydir"))
os.symlink("hello.txt", os.path.join(ex, "link-rel"))
os.symlink("../outside-secret", os.path.join(ex, "link-out"))
os.symlink("/", os.path.join(ex, "link-root"))
os.mkfifo(os.path.join(ex, "fifo"))
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(ex, "sock"))
s.close()
os.mknod(os.path.join(ex, "cdev"), 0o600 | 0o020000, os.makedev(1, 5))
EOF

# ---- server ------------------------------------------------------------------------------
PORT=$(free_port)
cmd=${SERVER//\{port\}/$PORT}
cmd=${cmd//\{export\}/$EXPORT}
log "$LABEL: server: $cmd"
setsid timeout -k 5 $((TIMEOUT + 30)) bash -c "exec $cmd" > "$SLOG" 2>&1 < /dev/null &
spid=$!
if ! wait_listening "$PORT" "$spid" 10; then
  echo "FAIL server: not listening on 127.0.0.1:$PORT; its log:"
  tail -n 20 "$SLOG" | sed 's/^/  /'
  echo "$LABEL: 0 passed, 1 failed"
  exit 1
fi

# ---- clients -----------------------------------------------------------------------------
rc=0
timeout -k 5 "$TIMEOUT" python3 "$HERE/check.py" --server "127.0.0.1:$PORT" --export "$EXPORT" \
  --secret "$WORK/outside-secret" --label "$LABEL" ${XFAIL:+--xfail "$XFAIL"} || rc=$?
if ! kill -0 "$spid" 2>/dev/null; then
  echo "FAIL server-alive: the server exited during the run"
  rc=1
fi
if [[ $rc -ne 0 ]]; then
  echo "---- server log (tail) ----"
  tail -n 20 "$SLOG"
fi
exit "$rc"
