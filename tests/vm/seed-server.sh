#!/usr/bin/env bash
# Extra host-made content for the 9P server workload (guest/server-workload.sh), on top of
# seed-export.sh (run that first):
#   EXPORT/srv/hostbig.bin    4 MiB + 4321 random bytes; EXPORT/srv/hostbig.md5 its md5 (hex)
#   EXPORT/srv/hostfifo       fifo 0644          EXPORT/srv/hostsock  unix socket node
#   EXPORT/srv/hostdir/       0700 root, files a b: uid 1000 must get EACCES listing it
#   EXPORT/srv/group1000      "g\n" 0640 owned 0:1000 (group-readable by gid 1000)
#   EXPORT/srv/locked         a file the host keeps locked (lockhold.py) during the run
#   EXPORT/srv/link-etc       -> /etc              EXPORT/srv/link-up -> ../../../../..
#   EXPORT/srv/link-secret    -> ../../outside-secret
# Usage: seed-server.sh EXPORT   (needs root)
set -euo pipefail
export_dir=$1
[[ -d "$export_dir" ]] || { echo "seed-server: $export_dir missing" >&2; exit 1; }
s=$export_dir/srv
mkdir -p "$s/hostdir"
chmod 0755 "$s"
head -c $((4 * 1024 * 1024 + 4321)) /dev/urandom > "$s/hostbig.bin"
md5sum < "$s/hostbig.bin" | cut -d' ' -f1 > "$s/hostbig.md5"
mkfifo -m 0644 "$s/hostfifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$s/hostsock"
echo a > "$s/hostdir/a"; echo b > "$s/hostdir/b"
chmod 0700 "$s/hostdir"
printf 'g\n' > "$s/group1000"; chown 0:1000 "$s/group1000"; chmod 0640 "$s/group1000"
printf 'locked\n' > "$s/locked"; chmod 0666 "$s/locked"
ln -s /etc "$s/link-etc"
ln -s ../../../../.. "$s/link-up"
ln -s ../../outside-secret "$s/link-secret"
