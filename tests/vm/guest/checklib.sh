# Check helpers for guest workloads (busybox ash). Source it: `. /workloads/checklib.sh`.
#
# Output protocol, one line each (parsed by the host, tests/vm/host-check.py):
#   CHECK ok NAME
#   CHECK FAIL NAME: DETAIL
#   INFO TEXT                      (not a check; observations worth keeping in the log)
#   EXPECT KIND PATH VALUE         (a fact the host must verify on the export, e.g.
#                                   "EXPECT sha256 big.bin <hex>"; PATH relative to the export)
#   SUMMARY passed=N failed=M      (once, at the end; counts every CHECK of this boot)
# Counters live in files so that checks run in subshells still count.

CHECKLIB_DIR=/tmp/.p9checks

checklib_init() {
  mkdir -p "$CHECKLIB_DIR"
  touch "$CHECKLIB_DIR/pass" "$CHECKLIB_DIR/fail"
}
checklib_init

_emit() {
  echo "$*"
  if [ -n "$CHECKLIB_ALSO" ]; then echo "$*" >> "$CHECKLIB_ALSO"; fi
}

ok() { echo x >> "$CHECKLIB_DIR/pass"; _emit "CHECK ok $1"; }
fail() {
  echo x >> "$CHECKLIB_DIR/fail"
  # Keep the detail on one line and bounded.
  _emit "CHECK FAIL $1: $(printf '%s' "$2" | tr '\n\r' '  ' | cut -c1-400)"
}
info() { _emit "INFO $*"; }
expect() { _emit "EXPECT $*"; }

# check NAME CMD [ARG...]: ok when CMD exits 0; its output goes into the failure detail.
check() {
  _n=$1; shift
  if _out=$("$@" 2>&1); then ok "$_n"; else fail "$_n" "rc=$? cmd='$*' out='$_out'"; fi
}

# check_eq NAME GOT WANT
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2' want '$3'"; fi
}

# check_match NAME GOT ERE
check_match() {
  if printf '%s\n' "$2" | grep -Eq -- "$3"; then ok "$1"; else fail "$1" "'$2' !~ /$3/"; fi
}

# check_errno NAME WANT OP [ARG...]: runs `p9t try OP ARG...` (prints OK or the errno name).
check_errno() {
  _n=$1; _want=$2; shift 2
  _got=$(p9t try "$@" 2>&1)
  if [ "$_got" = "$_want" ]; then ok "$_n"; else fail "$_n" "p9t try $*: got '$_got' want '$_want'"; fi
}

# field PATH KEY: one key of `p9t stat PATH` (type mode uid gid rdev nlink size atime mtime
# ctime ino blocks); empty when lstat fails.
field() {
  p9t stat "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# stat_is NAME PATH KEY=VALUE...: every listed key of `p9t stat PATH` has that value.
stat_is() {
  _n=$1; _p=$2; shift 2
  _st=$(p9t stat "$_p" 2>&1) || { fail "$_n" "$_st"; return; }
  for _kv in "$@"; do
    case " $_st " in
      *" $_kv "*) ;;
      *) fail "$_n" "$_p: want $_kv in '$_st'"; return ;;
    esac
  done
  ok "$_n"
}

summary() {
  _p=$(wc -l < "$CHECKLIB_DIR/pass")
  _f=$(wc -l < "$CHECKLIB_DIR/fail")
  _emit "SUMMARY passed=$((_p)) failed=$((_f))"
  touch "$CHECKLIB_DIR/summary-done"
}

# section NAME: a timing mark (guest uptime) in the log.
section() { _emit "INFO section $1 uptime=$(cut -d' ' -f1 /proc/uptime)"; }
