#!/usr/bin/env bash
# lint.sh - static analysis as CI runs it: configure a build in build-lint/
# (for its compile_commands.json and the generated sources), build it, then
#   cppcheck   --enable=warning,performance,portability over every C file of
#              the compile database (product, tests, bench; inline
#              suppressions only, each with its reason next to it), and
#   clang-tidy with the checked-in .clang-tidy (warnings are errors) over the
#              product, bench and fuzz sources (tests/ and generated files
#              left out).
# Installs cppcheck and clang-tidy with apt when they are missing.  Works
# from any directory; exits non-zero on any finding or failure.
# Options: -j N (parallel jobs, default nproc), --no-build (reuse build-lint/
# as it is), --only cppcheck|clang-tidy.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=$(nproc 2>/dev/null || echo 2)
build=1
only=
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    --no-build) build=0; shift ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "lint: unknown option $1" >&2; exit 2 ;;
  esac
done

step() { printf '\n==== %s ====\n' "$*"; }

# need CMD PACKAGE - install PACKAGE with apt when CMD is missing
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    step "installing $2"
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2"; }
    else
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2"
    fi
  fi
}

[ "$only" != clang-tidy ] && need cppcheck cppcheck
[ "$only" != cppcheck ] && need clang-tidy clang-tidy

dir=build-lint
db=$dir/compile_commands.json
if [ "$build" = 1 ] || [ ! -f "$db" ]; then
  step "configure and build $dir/"
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  cmake -S "$root" -B "$dir" -DMAILSEAL_WERROR=ON >/dev/null
  # The build generates sources some files include (the viewer's assets).
  cmake --build "$dir" -j"$jobs" >/dev/null
fi

failed=()

if [ "$only" != clang-tidy ]; then
  step "cppcheck"
  start=$SECONDS
  mkdir -p "$dir/cppcheck"
  # missingIncludeSystem: cppcheck does not need (or find) the system
  # headers; checkersReport/unmatchedSuppression: informational only.
  # Its exit status alone misses the whole-program (ctu*) findings of a
  # parallel run, so any line it prints is a finding too.
  out=$dir/cppcheck.log
  if ! cppcheck --project="$db" --std=c11 \
       --enable=warning,performance,portability \
       --inline-suppr --error-exitcode=1 --quiet -j"$jobs" \
       --cppcheck-build-dir="$dir/cppcheck" \
       --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
       --template='{file}:{line}:{column}: {severity}: {message} [{id}]' >"$out" 2>&1 ||
     [ -s "$out" ]; then
    cat "$out"
    failed+=(cppcheck)
  fi
  echo "cppcheck: $((SECONDS - start)) s"
fi

if [ "$only" != cppcheck ]; then
  step "clang-tidy"
  start=$SECONDS
  # The product and bench sources of the compile database: not tests/ and
  # not the generated files in the build directory.
  files=$(python3 - "$db" "$root" <<'EOF'
import json, sys
db, root = sys.argv[1], sys.argv[2].rstrip("/") + "/"
for e in json.load(open(db)):
    f = e["file"]
    rel = f[len(root):] if f.startswith(root) else None
    if rel and not rel.startswith(("tests/", "build")) and rel.endswith(".c"):
        print(f)
EOF
)
  log=$dir/clang-tidy.log
  # -Wno-unknown-warning-option: the database holds GCC-only warning flags
  # (-Wlogical-op, -Wduplicated-cond) that clang does not know.
  # Headers of the project are checked with the files that include them.
  if ! printf '%s\n' $files |
       xargs -P"$jobs" -n4 clang-tidy -p "$dir" --quiet \
         --header-filter="^$root/(util|message|config|rules|crypto|milter|cli|bench|fuzz)/" \
         --extra-arg=-Wno-unknown-warning-option >"$log" 2>&1; then
    grep -E '(warning|error):' "$log" | sort -u || true
    failed+=(clang-tidy)
  elif grep -qE '(warning|error):' "$log"; then
    grep -E '(warning|error):' "$log" | sort -u
    failed+=(clang-tidy)
  fi
  echo "clang-tidy: $(printf '%s\n' $files | wc -l) file(s), $((SECONDS - start)) s"
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "lint: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint: no findings"
