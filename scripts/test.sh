#!/usr/bin/env bash
# The project's whole test suite, as CI runs it (.ci/run calls this; the README names it).
# On a fresh Debian 12 machine, as root: installs what it needs (pinned apt packages, the
# guest kernel, cargo-fuzz), then runs lints, unit/integration/property tests, the VM
# end-to-end tests with QEMU 7.2 and a real Linux guest, and bounded fuzzing.
#
#   bash scripts/test.sh            # everything
#   P9PROXY_SKIP_VM=1 bash ...      # everything but the VMs (for quick local runs only)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s\n' "$*"; }
passed=0
failed=0

step "dependencies"
bash scripts/install-deps.sh
if ! command -v cargo-fuzz >/dev/null || [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13."* ]]; then
  cargo install cargo-fuzz --version '~0.13' --locked
fi
if ! command -v cargo-deb >/dev/null || [[ "$(cargo deb --version 2>/dev/null)" != *" 3."* ]]; then
  cargo install cargo-deb --version '~3' --locked
fi
if ! command -v cargo-nextest >/dev/null; then
  cargo install cargo-nextest --version '~0.9' --locked
fi

step "format and lints"
cargo fmt --all -- --check
# Merge leftovers (a conflict marker inside a string or a doc would compile).
if git grep -nE '^(<<<<<<< |>>>>>>> |=======$)' -- . ':!*.xfail'; then
  echo "conflict markers left in the tree"; exit 1
fi
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit, integration and property tests"
log=$(mktemp)
if cargo nextest run --workspace --locked --no-fail-fast 2>&1 | tee "$log"; then :; else failed=$((failed + 1)); fi
# nextest's summary: "Summary [...] N tests run: N passed, M skipped" (or "N failed").
n=$(grep -Eo '[0-9]+ tests? run: [0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
passed=$((passed + n))
cargo test --workspace --doc --locked
rm -f "$log"

step "release build (binaries under test in the VMs and benchmarks)"
cargo build --release --workspace --locked

step "benchmark smoke run (our helper against QEMU's, both placements; figures not judged)"
if P9PROXY_BENCH_SECS=0.1 P9PROXY_BENCH_ROUNDS=1 cargo bench -p proxy-client --bench helpers --locked; then
  passed=$((passed + 1))
else
  echo "helpers bench FAILED"; failed=$((failed + 1))
fi

step "Debian package (cargo deb; dpkg -i, serve from it, dpkg -r)"
log=$(mktemp)
if bash tests/deb/test-deb.sh 2>&1 | tee "$log"; then :; fi
line=$(grep -E '^deb: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1 || true)
[[ -n "$line" ]] || line="deb: 0 passed, 1 failed"
dp=$(sed -E 's/^deb: ([0-9]+) passed.*/\1/' <<<"$line"); df=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
passed=$((passed + dp)); failed=$((failed + df))
rm -f "$log"

if [[ "${P9PROXY_SKIP_VM:-}" != 1 ]]; then
  step "VM end-to-end tests (QEMU 7.2, Linux 6.1 guest)"
  log=$(mktemp)
  if P9PROXY_HELPER="$PWD/target/release/virtfs-proxy-helper" bash tests/vm/run-all.sh 2>&1 | tee "$log"; then :; fi
  line=$(grep -E '^vm: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1 || true)
  [[ -n "$line" ]] || line="vm: 0 passed, 1 failed"
  vp=$(sed -E 's/^vm: ([0-9]+) passed.*/\1/' <<<"$line"); vf=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  passed=$((passed + vp)); failed=$((failed + vf))
  rm -f "$log"
fi

step "fuzzing (bounded, committed seed corpus)"
for target in $(cargo fuzz list --fuzz-dir fuzz); do
  work=$(mktemp -d)
  if cargo fuzz run --fuzz-dir fuzz -s none "$target" "$work" "fuzz/corpus/$target" -- \
       -max_total_time="${P9PROXY_FUZZ_SECONDS:-20}" -print_final_stats=1 2>&1 | tail -3; then
    passed=$((passed + 1))
  else
    echo "fuzz target $target FAILED"; failed=$((failed + 1))
  fi
  rm -rf "$work"
done

echo
echo "test.sh: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
