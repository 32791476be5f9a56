#!/usr/bin/env bash
# fsmatrix: the file systems fs is tested and measured on, mounted side by side
# (the shape of xfstests' one list of mount types).
#
#   fsmatrix.sh mount    mount every one it can under $FSMATRIX_ROOT (root only)
#   fsmatrix.sh umount   unmount them and free the loop devices
#   fsmatrix.sh list     "name dir" per line for each one mounted now
#
# ext4, xfs and btrfs live on loop devices over sparse image files of
# FSMATRIX_SIZE_MB (4 GiB: Pebble preallocates its WALs at 295 MB each, and
# a 1 GiB file system ran out of space under contrib/pebble's test), with
# direct I/O, so a page-cache miss reaches the disk, not the host's cache of
# the image; tmpfs
# is memory; overlayfs has its lower and upper layers on the disk, as a
# container's root file system; fuse is bindfs mirroring a directory of the
# disk. A file system whose tools are missing is installed with apt-get when
# it can be, else left out with the reason on stderr.
set -euo pipefail

root=${FSMATRIX_ROOT:-/var/tmp/uring-fsmatrix}
names=(ext4 xfs btrfs tmpfs overlay fuse)
size_mb=${FSMATRIX_SIZE_MB:-4096}

say() { echo "fsmatrix: $*" >&2; }

ensure() { # ensure CMD PACKAGE: mount installed what it could, once
  command -v "$1" >/dev/null 2>&1
}

mounted() { mountpoint -q "$root/$1/mnt" 2>/dev/null; }

mount_loop() { # mount_loop NAME MKFS...
  local name=$1; shift
  local dir=$root/$name img=$root/$name.img
  mkdir -p "$dir/mnt"
  rm -f "$img"
  truncate -s "${size_mb}M" "$img"
  "$@" "$img" >/dev/null 2>&1 || { say "$name: mkfs failed"; return 1; }
  local dev
  dev=$(losetup --find --show --direct-io=on "$img" 2>/dev/null) || dev=$(losetup --find --show "$img") ||
    { say "$name: no loop device"; return 1; }
  mount -t "$name" "$dev" "$dir/mnt" || { losetup -d "$dev"; say "$name: mount failed"; return 1; }
}

mount_one() {
  local name=$1 dir=$root/$1
  mounted "$name" && return 0
  case $name in
  ext4) mount_loop ext4 mkfs.ext4 -q -F ;;
  xfs) ensure mkfs.xfs xfsprogs || { say "xfs: no mkfs.xfs"; return 1; }; mount_loop xfs mkfs.xfs -q -f ;;
  btrfs) ensure mkfs.btrfs btrfs-progs || { say "btrfs: no mkfs.btrfs"; return 1; }; mount_loop btrfs mkfs.btrfs -q -f ;;
  tmpfs) mkdir -p "$dir/mnt" && mount -t tmpfs -o size=${size_mb}m tmpfs "$dir/mnt" ;;
  overlay)
    mkdir -p "$dir/lower" "$dir/upper" "$dir/work" "$dir/mnt"
    mount -t overlay overlay -o "lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/mnt" ;;
  fuse)
    ensure bindfs bindfs || { say "fuse: no bindfs"; return 1; }
    mkdir -p "$dir/src" "$dir/mnt"
    bindfs --no-allow-other "$dir/src" "$dir/mnt" 2>/dev/null || bindfs "$dir/src" "$dir/mnt" ;;
  esac
  chmod 1777 "$dir/mnt"
}

cmd=${1:-list}
case $cmd in
mount)
  [ "$(id -u)" = 0 ] || { say "not root: cannot mount loop devices, tmpfs or overlayfs"; exit 1; }
  mkdir -p "$root/probe"
  # Root in a container without CAP_SYS_ADMIN cannot mount anything: say so
  # once, before installing tools for mounts that cannot happen.
  if ! mount -t tmpfs -o size=1m tmpfs "$root/probe" 2>/dev/null; then
    say "cannot mount here (no CAP_SYS_ADMIN: a container?): nothing mounted"
    exit 0
  fi
  umount "$root/probe"
  # The tools the loop and FUSE mounts need, in one apt-get for all.
  need=()
  command -v mkfs.xfs >/dev/null 2>&1 || need+=(xfsprogs)
  command -v mkfs.btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
  command -v bindfs >/dev/null 2>&1 || need+=(bindfs)
  if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >/dev/null 2>&1 || true
  fi
  for n in "${names[@]}"; do mount_one "$n" || say "$n left out"; done
  "$0" list ;;
umount)
  for n in "${names[@]}"; do
    d=$root/$n/mnt
    mounted "$n" || continue
    if [ "$n" = fuse ]; then fusermount3 -u "$d" 2>/dev/null || umount "$d"; else umount "$d"; fi
  done
  for img in "$root"/*.img; do
    [ -e "$img" ] || continue
    for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$dev"; done
    rm -f "$img"
  done ;;
list)
  for n in "${names[@]}"; do
    if mounted "$n"; then echo "$n $root/$n/mnt"; fi
  done ;;
*) say "unknown command $cmd"; exit 2 ;;
esac
