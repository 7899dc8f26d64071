#!/usr/bin/env bash
# build-deb.sh - build the Debian package of mailseal (Debian 12) from this
# repository with one command, and print the path of the .deb.
#
# Installs what is missing first (scripts/install-deps.sh, then the packaging
# tools and the Build-Depends of packaging/debian/control; as another user
# than root it only checks).  Copies the repository's tracked files, as they
# are in the working tree, into a temporary directory, places
# packaging/debian there as debian/, runs `dpkg-buildpackage -us -uc -b` and
# moves the resulting packages (mailseal and its -dbgsym) to the output
# directory.  Build output goes to stderr; stdout is just the path of the
# mailseal .deb, so `deb=$(scripts/build-deb.sh)` works.
#
# Options: -o DIR (output directory, default build-deb/ in the repository),
# -j N (parallel build jobs, default nproc; a parallel= already in
# DEB_BUILD_OPTIONS wins), -k (keep the temporary build tree and say where).
# Exits non-zero when anything fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

out="$root/build-deb"
jobs=$(nproc 2>/dev/null || echo 2)
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    -k) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-deb: unknown option $1" >&2; exit 2 ;;
  esac
done

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# need_packages PKG... - install the packages that are missing (root), or fail
need_packages() {
  local p missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$p")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]}; run as root"
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# 1. dependencies: the project's, then the packaging tools
bash "$root/scripts/install-deps.sh" >&2
need_packages debhelper dpkg-dev fakeroot

[ -f "$root/packaging/debian/control" ] || die "no packaging/debian/control in $root"
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
upstream=${version%-*}

# 2. a clean copy of the sources
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailseal-deb.XXXXXX")
if [ "$keep" = 1 ]; then
  trap 'say "build tree kept in $tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi
stage="$tmp/mailseal-$upstream"
mkdir "$stage"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  say "copying the tracked files of $root"
  # Tracked files as they are in the working tree; ones deleted there are skipped.
  (cd "$root" && git ls-files -z --cached |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null --no-recursion -T - -cf -) | tar -xf - -C "$stage"
else
  say "copying $root (not a git checkout: build directories left out)"
  (cd "$root" && tar --exclude='./build*' --exclude='./demo' --exclude='./.git' \
                     --exclude='./obj-*' --exclude='./debian' -cf - .) | tar -xf - -C "$stage"
fi
rm -rf "$stage/debian"
cp -a "$root/packaging/debian" "$stage/debian"

# 3. the Build-Depends of debian/control
if ! (cd "$stage" && dpkg-checkbuilddeps) 2>/dev/null; then
  [ "$(id -u)" -eq 0 ] || { (cd "$stage" && dpkg-checkbuilddeps) >&2 || true; die "unmet build dependencies; run as root"; }
  say "installing the build dependencies of debian/control"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get build-dep -y -qq --no-install-recommends "$stage" >&2
fi

# 4. build
case " ${DEB_BUILD_OPTIONS:-} " in
  *" parallel="*) ;;
  *) export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$jobs" ;;
esac
say "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS) in $stage"
(cd "$stage" && dpkg-buildpackage -us -uc -b) >&2

# 5. the packages
mkdir -p "$out"
out=$(cd "$out" && pwd)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="mailseal_${version}_${arch}.deb"
[ -f "$tmp/$deb" ] || die "dpkg-buildpackage made no $deb"
for f in "$tmp"/*.deb; do
  mv -f "$f" "$out/"
  say "built $out/$(basename "$f")"
done
printf '%s\n' "$out/$deb"
