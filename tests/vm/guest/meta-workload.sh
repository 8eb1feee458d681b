#!/bin/sh
# Guest workload for tests/vm/run-helper-compare.sh: metadata-heavy and timed, on a 9p share
# mounted at $1. Makes DIRS directories of FILES empty files each ($2, $3; default 20 x 100),
# walks the tree with find, stats every file, then removes it all. One INFO line per phase
# with its seconds (from /proc/uptime), and a few checks that the tree was what it should be.
. /workloads/checklib.sh
M=${1:-/mnt}
DIRS=${2:-20}
FILES=${3:-100}
T=$M/meta
now() { cut -d' ' -f1 /proc/uptime; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

t0=$(now)
mkdir "$T" || { fail meta-mkdir "cannot mkdir $T"; exit 1; }
i=0
while [ $i -lt "$DIRS" ]; do
  mkdir "$T/d$i"
  j=0
  while [ $j -lt "$FILES" ]; do
    : > "$T/d$i/f$j"
    j=$((j + 1))
  done
  i=$((i + 1))
done
t1=$(now)
n=$(find "$T" | wc -l)
t2=$(now)
s=$(find "$T" -type f -exec stat -c %s {} + | grep -c '^0$')
t3=$(now)
rm -rf "$T"
t4=$(now)

check_eq meta-find-count "$n" "$((1 + DIRS + DIRS * FILES))"
check_eq meta-stat-count "$s" "$((DIRS * FILES))"
check meta-removed test ! -e "$T"
info "meta files=$((DIRS * FILES)) create=$(secs "$t0" "$t1") find=$(secs "$t1" "$t2") stat=$(secs "$t2" "$t3") remove=$(secs "$t3" "$t4") total=$(secs "$t0" "$t4")"
summary
