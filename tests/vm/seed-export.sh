#!/usr/bin/env bash
# Seed a fresh export directory with host-made content the guest workloads read:
#   EXPORT/pre/hello.txt   "preexisting\n", 0640, 4321:4322, xattr user.host=fromhost
#   EXPORT/pre/chownme     root-owned file; the workload's FIRST request chowns it
#   EXPORT/pre/cdev        character device 1:5, 0600
#   EXPORT/pre/dir/{a,b,c}
#   EXPORT/pre/link-out    -> ../../outside-secret   (relative, climbs out of the export)
#   EXPORT/pre/link-abs    -> SECRET (absolute host path of the secret file)
#   EXPORT/pre/link-root   -> /
# SECRET (outside the export) holds a marker the guest must never be able to read.
# Usage: seed-export.sh EXPORT SECRET_FILE   (EXPORT must be absent or empty; needs root)
set -euo pipefail
export_dir=$1
secret=$2
mkdir -p "$export_dir"
[[ -z "$(ls -A "$export_dir")" ]] || { echo "seed-export: $export_dir is not empty" >&2; exit 1; }
chmod 0755 "$export_dir"
chown 0:0 "$export_dir"

echo "HOST-SECRET-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" > "$secret"
chmod 0644 "$secret"

p=$export_dir/pre
mkdir -p "$p/dir"
printf 'preexisting\n' > "$p/hello.txt"
chmod 0640 "$p/hello.txt"
chown 4321:4322 "$p/hello.txt"
setfattr -n user.host -v fromhost "$p/hello.txt"
printf 'chown me\n' > "$p/chownme"
mknod -m 0600 "$p/cdev" c 1 5
for f in a b c; do echo "$f" > "$p/dir/$f"; done
ln -s ../../outside-secret "$p/link-out"
ln -s "$secret" "$p/link-abs"
ln -s / "$p/link-root"
