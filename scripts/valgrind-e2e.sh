#!/usr/bin/env bash
# valgrind-e2e.sh - the end-to-end tests with mailseal-milter under valgrind's
# memcheck: build a plain (no sanitizer) -Werror build in build-valgrind/,
# then run its e2e ctest entries with MAILSEAL_VALGRIND=1, which makes the
# harness (tests/e2e/mailseal_e2e.py, class Milter) start the daemon as
#   valgrind --tool=memcheck --leak-check=full
#            --errors-for-leak-kinds=definite,indirect --error-exitcode=97
#            --track-fds=no --suppressions=tests/e2e/valgrind.supp ...
# and fail a test whose valgrind log shows any memory error or a definite or
# indirect leak.  Installs valgrind with apt when it is missing.  Works from
# any directory; exits non-zero when the build or any test fails.
# Options: -j N (build jobs, default nproc; the tests run one at a time),
# -R REGEX / -E REGEX (ctest selection; default: the e2e_ entries without
# the corpus, browser, demo and Postfix-only baseline ones), --no-build.
# MAILSEAL_VALGRIND_ARGS adds valgrind options (e.g. --gen-suppressions=all).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=$(nproc 2>/dev/null || echo 2)
build=1
include='^e2e_'
exclude='corpus|browser|demo|baseline'
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    -R) include=$2; shift 2 ;;
    -E) exclude=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "valgrind-e2e: unknown option $1" >&2; exit 2 ;;
  esac
done

step() { printf '\n==== %s ====\n' "$*"; }

if ! command -v valgrind >/dev/null 2>&1; then
  step "installing valgrind"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind; }
fi

dir=build-valgrind
if [ "$build" = 1 ]; then
  step "build (-Werror, no sanitizer) in $dir/"
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  cmake -S "$root" -B "$dir" -DMAILSEAL_WERROR=ON -DMAILSEAL_SANITIZE=OFF
  cmake --build "$dir" -j"$jobs"
fi

step "e2e tests under valgrind in $dir/ (-R '$include' -E '$exclude')"
start=$SECONDS
rc=0
(cd "$dir" && MAILSEAL_VALGRIND=1 ctest --output-on-failure -L e2e \
   -R "$include" -E "$exclude") || rc=$?
echo "valgrind-e2e: $((SECONDS - start)) s, ctest exit status $rc"
exit "$rc"
