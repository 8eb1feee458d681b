#!/usr/bin/env bash
# What a guest sees of a proxy helper's speed: QEMU 7.2 (TCG) with QEMU's C helper and with
# ours, one VM each per round, the same metadata-heavy workload (tests/vm/guest/
# meta-workload.sh: make DIRS x FILES files, find, stat each, remove), wall times side by side.
# A benchmark, not a test (not in run-all.sh): under TCG the guest's own CPU dominates.
#
# usage: run-helper-compare.sh [--ours PATH] [--c PATH] [--rounds N] [--dirs N] [--files N]
#                              [--timeout S]
#   --ours   our helper (default target/release/virtfs-proxy-helper)
#   --c      QEMU's helper (default /usr/lib/qemu/virtfs-proxy-helper)
#   --rounds VMs per helper, alternating which goes first (default 1)
# Needs root. Prints one line per VM and a summary table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OURS=$REPO_ROOT/target/release/virtfs-proxy-helper C=/usr/lib/qemu/virtfs-proxy-helper
ROUNDS=1 DIRS=20 FILES=100 TIMEOUT=${P9PROXY_VM_TIMEOUT:-900}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ours) OURS=$2; shift 2 ;;
    --c) C=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --dirs) DIRS=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $(id -u) -eq 0 ]] || die "must run as root (the helpers need it)"
for h in "$OURS" "$C"; do [[ -x "$h" ]] || die "helper missing: $h"; done
vm_tools

vm_workdir p9proxy-compare
trap 'rm -rf "$WORK"' EXIT

# run_vm NAME HELPER: one VM on a fresh export; prints "NAME wall=S <the workload's INFO meta>"
run_vm() {
  local name=$1 helper=$2 dir
  dir=$(mktemp -d "$WORK/$name.XXXX")
  mkdir "$dir/export"
  local append="console=ttyS0 quiet panic=-1 no_timer_check p9test=meta p9.trans=virtio p9.tag=share p9.args=$DIRS,$FILES"
  local start end qrc=0
  start=$(date +%s.%N)
  timeout -k 5 "$((TIMEOUT + 15))" "$PY" "$VM_DIR/fdpair.py" "$dir/helper.log" "$dir/helper.status" \
    "$helper" -f '{fd}' -p "$dir/export" -n --- \
    timeout -k 5 "$TIMEOUT" "$QEMU" -accel tcg -m 512 -nographic -nodefaults -no-reboot \
      -no-user-config -kernel "$VMLINUZ" -initrd "$INITRD" -append "$append" \
      -serial "file:$dir/console.log" -serial "file:$dir/results.log" \
      -device virtio-9p-pci,fsdev=f,mount_tag=share -fsdev 'proxy,id=f,sock_fd={fd}' \
      > "$dir/qemu.out" 2>&1 || qrc=$?
  end=$(date +%s.%N)
  local meta summary
  meta=$(tr -d '\r' < "$dir/results.log" | sed -n 's/^INFO meta //p' | tail -n 1)
  summary=$(tr -d '\r' < "$dir/results.log" | grep '^SUMMARY' | tail -n 1 || true)
  if [[ $qrc -ne 0 || -z "$meta" || "$summary" != *"failed=0"* ]]; then
    log "$name: VM failed (qemu rc=$qrc, ${summary:-no SUMMARY}); console tail:"
    tail -n 20 "$dir/console.log" | tr -d '\r' >&2
    grep -h '^CHECK FAIL' "$dir/results.log" >&2 || true
    echo "$name wall=FAILED"
    return
  fi
  echo "$name wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') $meta"
}

log "$DIRS x $FILES files per VM, $ROUNDS round(s); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then order=("C:$C" "ours:$OURS"); else order=("ours:$OURS" "C:$C"); fi
  for entry in "${order[@]}"; do
    line=$(run_vm "${entry%%:*}" "${entry#*:}")
    echo "$line"
    results+=("$line")
  done
done
printf '%s\n' "${results[@]}" | awk '
  { name = $1; n[name]++
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[name, kv[1]] += kv[2]; keys[kv[1]] = 1 } }
  END {
    split("wall create find stat remove total", order, " ")
    printf "%-6s", "helper"; for (k = 1; k <= 6; k++) printf " %9s", order[k] " s"; printf "\n"
    for (name in n) {
      printf "%-6s", name
      for (k = 1; k <= 6; k++) printf " %9.2f", v[name, order[k]] / n[name]
      printf "\n"
    }
  }'
