#!/usr/bin/env bash
# Makes the NFS-like FUSE mount (test/helpers/nfsfs.py) possible: Debian's python3-fusepy
# (on libfuse2) and fuse3 (fusermount). Idempotent and quiet; fails loudly when FUSE cannot
# work here, because the consistency tests must fail rather than skip.
set -euo pipefail

missing=()
for p in python3-fusepy fuse3; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

grep -qw fuse /proc/filesystems || modprobe fuse 2>/dev/null || true
if ! grep -qw fuse /proc/filesystems; then
  echo "setup-fuse.sh: the kernel has no fuse file system" >&2
  exit 1
fi
if [[ ! -c /dev/fuse ]]; then
  echo "setup-fuse.sh: /dev/fuse is missing (a container needs --device /dev/fuse --cap-add SYS_ADMIN)" >&2
  exit 1
fi
/usr/bin/python3 -c 'import fusepy' || { echo "setup-fuse.sh: /usr/bin/python3 cannot import fusepy" >&2; exit 1; }
