# POSIX suites on the share (sourced by the guest's /init as `sh posix-workload.sh MNT ARGS`).
# Arguments (p9.args, comma-separated):
#   pjd=full|subset|none   pjdfstest: every tests/**/*.t, or those listed in /posix/subset.txt
#   pjd=only:DIR+DIR...    pjdfstest: every file of those test directories (e.g. only:chown+link)
#   fsx=N                  fsx, N operations in each of three modes (buffered, O_DIRECT with
#                          4 KiB-aligned I/O, fsync after every change), fixed seeds, -R -W
#                          (no shared mmap on a 9p mount without cache=mmap)
#   fsstress=N             fsstress, 4 processes x N operations, fixed seed
# Output (also on the results channel), judged by tests/vm/posix/posix-check.py:
#   PJD FILE <file.t> plan=N ok=N fail=N secs=N      one per test file
#   PJD FAIL <file.t>:<case> <pjdfstest's "tried ..., expected ..., got ..." text>
#   CHECK ok|FAIL fsx-<mode> / fsstress (checklib)
MNT=$1; shift
. /workloads/checklib.sh
PJD=none FSX=0 FSS=0
for a in "$@"; do
  case "$a" in
    pjd=*) PJD=${a#pjd=} ;;
    fsx=*) FSX=${a#fsx=} ;;
    fsstress=*) FSS=${a#fsstress=} ;;
  esac
done
info "posix: pjd=$PJD fsx=$FSX fsstress=$FSS mount: $(grep " $MNT " /proc/mounts)"

run_pjd() {
  files=$1
  work=$MNT/pjd
  mkdir -p "$work" || { fail pjd-workdir "mkdir $work failed"; return; }
  for f in $files; do
    t0=$(cut -d. -f1 /proc/uptime)
    # one file at a time from the work dir, as prove would; a hung case is cut after 600 s
    (cd "$work" && timeout 600 sh "/posix/tests/$f" > /tmp/tap.out 2>/tmp/tap.err)
    t1=$(cut -d. -f1 /proc/uptime)
    plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' /tmp/tap.out | head -n 1)
    # as prove counts: "not ok N # TODO ..." (a case the suite expects to fail on this OS)
    # is not a failure
    grep -v '^not ok [0-9]* # TODO' /tmp/tap.out > /tmp/tap.judged
    nok=$(grep -c '^ok \|^not ok [0-9]* # TODO' /tmp/tap.out)
    nfail=$(grep -c '^not ok ' /tmp/tap.judged)
    _emit "PJD FILE $f plan=${plan:-0} ok=$nok fail=$nfail secs=$((t1 - t0))"
    grep '^not ok ' /tmp/tap.judged | while read -r _n _o num rest; do
      # long generated names (PATH_MAX tests) shortened so that "expected X, got Y" stays
      _emit "PJD FAIL $f:$num $(printf '%s' "$rest" | sed -E 's/^- //; s|([0-9a-z_]{12})[0-9a-z_/]{28,}|\1...|g' | cut -c1-300)"
    done
    [ ! -s /tmp/tap.err ] || _emit "INFO $f stderr: $(head -c 300 /tmp/tap.err | tr '\n' ' ')"
  done
  left=$(ls -A "$work" 2>/dev/null | wc -l)
  [ "$left" -eq 0 ] || info "pjd: $left entries left in the work dir"
}

case "$PJD" in
  full) section pjd; run_pjd "$(cd /posix/tests && find . -name '*.t' | sed 's|^\./||' | sort)" ;;
  subset) section pjd; run_pjd "$(grep -v '^#' /posix/subset.txt | grep .)" ;;
  only:*) section pjd
    run_pjd "$(for d in $(echo "${PJD#only:}" | tr '+' ' '); do
      (cd /posix/tests && find "$d" -name '*.t' | sort); done)" ;;
  none) ;;
  *) fail pjd-args "pjd=$PJD: want full, subset, only:DIR+DIR or none" ;;
esac

if [ "$FSX" -gt 0 ]; then
  section fsx
  mkdir -p "$MNT/fsx" "/tmp/fsxlog"
  # name:extra options; the seeds are fixed so a failure replays
  for m in buffered:-S1 direct:-S2_-Z_-r4096_-w4096_-t4096 fsync:-S3_-y; do
    name=${m%%:*}; opts=$(echo "${m#*:}" | tr '_' ' ')
    # shellcheck disable=SC2086
    if fsx -q -R -W -N "$FSX" $opts -P /tmp/fsxlog "$MNT/fsx/$name" > /tmp/fsx.out 2>&1; then
      ok "fsx-$name"
    else
      fail "fsx-$name" "fsx -R -W -N $FSX $opts: $(tail -n 15 /tmp/fsx.out)"
    fi
  done
fi

if [ "$FSS" -gt 0 ]; then
  section fsstress
  mkdir -p "$MNT/fsstress"
  if fsstress -d "$MNT/fsstress" -p 4 -n "$FSS" -s 42 > /tmp/fss.out 2>&1; then
    ok fsstress
  else
    fail fsstress "fsstress -p 4 -n $FSS -s 42: $(tail -n 15 /tmp/fss.out)"
  fi
fi
section end
summary
