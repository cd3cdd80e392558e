#!/usr/bin/env bash
# `make test-debian13`: `make test` of the committed tree (git archive HEAD) in a Debian 13 "trixie" chroot.
# The chroot is built once with debootstrap and kept in DEB13_CACHE (outside the repo); packages are installed in
# it with apt-get. Everything that mounts runs in a private mount namespace (unshare), so no mount can leak to the
# host or outlive this script, and a trap unmounts anyway. Exit status: that of `make test` inside (or 1 on setup).
# Needs root. Variables (set by the Makefile): DEB13_CACHE, DEB13_PKGS, DEB13_MIRROR, DEB13_FRESH=1 (rebuild).
set -euo pipefail

cache=${DEB13_CACHE:-/var/cache/forkhazard/trixie}
pkgs=${DEB13_PKGS:-g++ make libcriterion-dev libdw-dev gcc python3 nodejs libc6-dbg}
# The mirror: the one this machine's own apt sources use for Debian (deb822 .sources or sources.list), else the
# project's default.
apt_mirror() {
  local uri
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/ && $i !~ /security/) { print $i; exit } }' \
          /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 ~ /debian\/?$/ && $2 !~ /security/ { print $2; exit }' \
          /etc/apt/sources.list 2>/dev/null)
  echo "${uri:-http://deb.debian.org/debian}"
}
mirror=${DEB13_MIRROR:-$(apt_mirror)}
root=$cache/root
say() { echo "forkhazard: debian13: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap, chroot, mount)"; exit 1; }
case $cache in /*) ;; *) say "DEB13_CACHE must be an absolute path"; exit 1 ;; esac
[ "$cache" != / ] || { say "DEB13_CACHE must not be /"; exit 1; }

# Re-enter in a private mount namespace: every mount below (ours and debootstrap's) dies with it.
if [ -z "${FH_DEB13_IN_NS:-}" ]; then
  repo=$(git -C "$(dirname "$0")/../.." rev-parse --show-toplevel)
  FH_DEB13_IN_NS=1 FH_DEB13_REPO=$repo exec unshare --mount --propagation private -- "$0" "$@"
fi
repo=$FH_DEB13_REPO

# Mount points at or below $1 (deepest first), as the kernel lists them (octal escapes decoded).
mounts_under() {
  local dir; dir=$(readlink -f "$1")
  awk -v d="$dir" '{ p = $2; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print p }' /proc/self/mounts | sort -r
}
unmount_under() {
  local m
  while IFS= read -r m; do [ -n "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" || true; }; done < <(mounts_under "$1")
}
# rm -rf only what has no mount left inside (checked in this namespace and the host's, pid 1's), never crossing
# into another file system.
safe_rm() {
  [ -e "$1" ] || return 0
  unmount_under "$1"
  local dir; dir=$(readlink -f "$1")
  if [ -n "$(mounts_under "$1")" ] || awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { f = 1 } END { exit !f }' /proc/1/mounts; then
    say "refusing to remove $1: something is still mounted inside it"; exit 1
  fi
  rm -rf --one-file-system -- "$1"
}

mkdir -p "$cache"
exec 9>"$cache/lock"
flock -n 9 || { say "waiting for another run using $cache"; flock 9; }

cleanup() { unmount_under "$root"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Inside the chroot: a clean environment, /proc, /dev, /dev/pts, /dev/shm and /sys mounted (ptrace, /proc/PID/*,
# process_vm_readv, POSIX shared memory).
mount_all() {
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
}
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "$@"
}
now() { date +%s; }

# 1. The chroot: built from scratch when absent (or DEB13_FRESH=1), else reused.
t0=$(now)
if [ "${DEB13_FRESH:-}" = 1 ] || [ ! -f "$cache/ready" ]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing Debian packages: debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rm -f "$cache/ready"
  safe_rm "$root"; safe_rm "$root.new"
  say "building the trixie chroot in $root (debootstrap, $mirror)"
  debootstrap --variant=minbase trixie "$root.new" "$mirror" > "$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; say "debootstrap failed (log: $cache/debootstrap.log)"; exit 1; }
  unmount_under "$root.new"
  mv "$root.new" "$root"
  cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror trixie main
deb $mirror trixie-updates main
SOURCES
  touch "$cache/ready"
  say "chroot built in $(( $(now) - t0 )) s"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mount_all

# 2. Packages, as `make deps` does it: only the missing ones, with apt-get.
t1=$(now)
missing=$(for p in $pkgs; do in_root dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  say "installing in the chroot:" $missing
  { in_root apt-get update -qq && in_root apt-get install -y -qq --no-install-recommends $missing; } \
    > "$cache/apt.log" 2>&1 || { tail -20 "$cache/apt.log" >&2; say "apt-get failed (log: $cache/apt.log)"; exit 1; }
  in_root apt-get clean
  say "packages installed in $(( $(now) - t1 )) s"
fi
say "$(in_root sh -c 'echo "$(. /etc/os-release; echo "$PRETTY_NAME"), glibc $(ldd --version | head -1 | sed "s/.* //"), $(g++ --version | head -1), $(python3 --version), node $(node --version)"')"

# 3. The committed tree, fresh each run, then `make test` there as root.
work=$root/root/forkhazard
safe_rm "$work"
mkdir -p "$work"
git -C "$repo" archive --format=tar HEAD | tar -x -C "$work"
say "testing $(git -C "$repo" rev-parse --short HEAD) (the committed tree; uncommitted changes are not included)"
t2=$(now)
status=0
in_root sh -c 'cd /root/forkhazard && make test' || status=$?
say "make test exited with $status after $(( $(now) - t2 )) s (whole run $(( $(now) - t0 )) s)"
exit "$status"
