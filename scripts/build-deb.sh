#!/usr/bin/env bash
# Build the Debian package of p9proxy (both binaries, systemd units, man pages and shell
# completions generated from the CLI definitions) with cargo-deb; prints the .deb's path
# on its last line. Honours CARGO_TARGET_DIR.
#
#   bash scripts/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null || [[ "$(cargo deb --version 2>/dev/null)" != *" 3."* ]]; then
  cargo install cargo-deb --version '~3' --locked
fi
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked -p p9proxy -p proxy-helper
rm -rf "$target/release/p9proxy-generated"
"$target/release/p9proxy" __generate "$target/release/p9proxy-generated"
cargo deb --locked --no-build --strip -p p9proxy --output "$target/debian/" >&2
ls -t "$target"/debian/p9proxy_*.deb | head -1
