#!/usr/bin/env bash
# The Debian package: build it (scripts/build-deb.sh), install it with dpkg -i on this
# machine, check its files, serve an export with the installed /usr/bin/p9proxy (local
# and proxy backends: the proxy one finds /usr/bin/virtfs-proxy-helper next to itself)
# on a loopback port, read a file with Debian's diodcat, then dpkg -r and -P it (the
# package's postinst creates the front end's system user p9proxy, postrm --purge removes it).
# Needs root (dpkg). Prints "deb: N passed, M failed" last.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'deb: %s\n' "$*" >&2; }
if [[ $(id -u) -ne 0 ]]; then echo "deb: SKIP (needs root for dpkg -i)"; echo "deb: 0 passed, 0 failed"; exit 0; fi
for t in diodcat dpkg python3 timeout; do
  command -v "$t" >/dev/null || { log "$t missing: run scripts/install-deps.sh"; exit 1; }
done
if dpkg-query -W -f='${Status}' p9proxy 2>/dev/null | grep -q "install ok installed"; then
  log "p9proxy is already installed here; not touching it"; exit 1
fi

deb=$(bash scripts/build-deb.sh | tail -1)
[[ -f "$deb" ]] || { log "no package built"; exit 1; }
log "built $deb"

passed=0; failed=0
ok() { log "ok: $*"; passed=$((passed + 1)); }
bad() { log "FAILED: $*"; failed=$((failed + 1)); }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/p9proxy-deb.XXXXXX")
spid=
cleanup() {
  [[ -z "$spid" ]] || { kill -TERM -- "-$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; }
  dpkg -P p9proxy >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if dpkg -i "$deb" >"$WORK/dpkg.log" 2>&1; then ok "dpkg -i"; else cat "$WORK/dpkg.log" >&2; bad "dpkg -i"; fi

for f in /usr/bin/p9proxy /usr/bin/virtfs-proxy-helper \
         /lib/systemd/system/p9proxy@.service /lib/systemd/system/p9proxy@.socket \
         /lib/systemd/system/p9proxy.service /usr/share/doc/p9proxy/examples/p9proxy.toml \
         /usr/share/man/man1/p9proxy-check-config.1 \
         /usr/share/man/man1/p9proxy.1 /usr/share/man/man1/p9proxy-serve.1 /usr/share/man/man1/p9proxy-stats.1 /usr/share/man/man1/virtfs-proxy-helper.1 \
         /usr/share/bash-completion/completions/p9proxy \
         /usr/share/zsh/vendor-completions/_p9proxy \
         /usr/share/fish/vendor_completions.d/p9proxy.fish \
         /usr/share/doc/p9proxy/copyright; do
  if [[ -s "$f" ]]; then ok "$f"; else bad "$f missing"; fi
done
if command -v systemd-analyze >/dev/null; then
  # The installed units, against the installed binary (no warning allowed).
  if out=$(systemd-analyze verify --man=no p9proxy@srv-export.socket p9proxy@srv-export.service p9proxy.service 2>&1) && [[ -z "$out" ]]
  then ok "systemd-analyze verify (installed units)"; else bad "systemd-analyze verify: $out"; fi
else
  log "SKIP systemd-analyze verify: systemd-analyze missing"
fi
if /usr/bin/p9proxy --version | grep -q '^p9proxy '; then ok "p9proxy --version"; else bad "p9proxy --version"; fi
# The front end's own system user (postinst), removed again by dpkg -P (postrm).
if getent passwd p9proxy >/dev/null; then ok "system user p9proxy"; else bad "no system user p9proxy"; fi
if /usr/bin/virtfs-proxy-helper --help >/dev/null 2>&1; then ok "virtfs-proxy-helper --help"; else bad "virtfs-proxy-helper --help"; fi

mkdir -p "$WORK/export"; chmod 0755 "$WORK" "$WORK/export"
echo "hello from the package $$" > "$WORK/export/hello.txt"
for backend in local proxy; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  setsid /usr/bin/p9proxy serve --backend "$backend" --listen "tcp:127.0.0.1:$port" "$WORK/export" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  spid=$!
  for _ in $(seq 1 100); do grep -q "serving" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
  got=$(timeout 20 diodcat -s "127.0.0.1:$port" -a "$WORK/export" hello.txt 2>&1 || true)
  if [[ "$got" == "hello from the package $$" ]]; then ok "diodcat via the installed p9proxy ($backend backend)"
  else bad "diodcat ($backend backend): got '$got'"; cat "$WORK/server.err" >&2; fi
  if [[ $backend == proxy ]]; then
    if grep -q "no user p9proxy" "$WORK/server.err"; then bad "the installed server fell back to nobody"
    else ok "the installed server drops to p9proxy (no fallback to nobody)"; fi
  fi
  kill -TERM -- "-$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=
done

if dpkg -r p9proxy >"$WORK/dpkg.log" 2>&1 && [[ ! -e /usr/bin/p9proxy && ! -e /lib/systemd/system/p9proxy@.service ]]; then
  ok "dpkg -r"
else cat "$WORK/dpkg.log" >&2; bad "dpkg -r"; fi
if dpkg -P p9proxy >"$WORK/dpkg.log" 2>&1 && ! getent passwd p9proxy >/dev/null; then
  ok "dpkg -P removes the system user p9proxy"
else cat "$WORK/dpkg.log" >&2; bad "dpkg -P"; fi

echo "deb: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
