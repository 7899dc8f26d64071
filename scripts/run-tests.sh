#!/usr/bin/env bash
# run-tests.sh - the whole test suite, as CI runs it: install what is
# missing, then build with -Werror in build/ and run ctest there, then build
# with AddressSanitizer + UBSan in build-asan/ and run ctest there too, then
# the static analysis (scripts/lint.sh: cppcheck and clang-tidy, no finding
# allowed), then the end-to-end tests with the milter under valgrind's
# memcheck (scripts/valgrind-e2e.sh, in build-valgrind/).  Works from any
# directory; exits non-zero when a build, any test or the analysis fails.
# Options: -j N (parallel jobs, default nproc), -R REGEX / -L LABEL (passed
# to ctest), --no-asan (skip the sanitizer build), --no-lint (skip the
# static analysis), --no-valgrind (skip the valgrind run).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=$(nproc 2>/dev/null || echo 2)
ctest_args=()
asan=1
lint=1
valgrind=1
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=$2; shift 2 ;;
    -R|-L|-E) ctest_args+=("$1" "$2"); shift 2 ;;
    --no-asan) asan=0; shift ;;
    --no-lint) lint=0; shift ;;
    --no-valgrind) valgrind=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run-tests: unknown option $1" >&2; exit 2 ;;
  esac
done

step() { printf '\n==== %s ====\n' "$*"; }

# configure DIR ARGS... - cmake configure, starting over when DIR was
# configured for another source tree (a moved or re-cloned checkout).
configure() {
  local dir=$1; shift
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  cmake -S "$root" -B "$dir" "$@"
}

step "dependencies"
bash "$root/scripts/install-deps.sh"

failed=()

step "build (-Werror) in build/"
configure build -DMAILSEAL_WERROR=ON
cmake --build build -j"$jobs"

step "tests in build/"
if ! (cd build && ctest --output-on-failure -j"$jobs" "${ctest_args[@]}"); then
  failed+=("tests in build/")
fi

if [ "$asan" = 1 ]; then
  step "build (-Werror, ASan+UBSan) in build-asan/"
  configure build-asan -DMAILSEAL_WERROR=ON -DMAILSEAL_SANITIZE=ON
  cmake --build build-asan -j"$jobs"

  step "tests in build-asan/"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if ! (cd build-asan && ctest --output-on-failure -j"$jobs" "${ctest_args[@]}"); then
    failed+=("tests in build-asan/")
  fi
fi

if [ "$lint" = 1 ]; then
  step "static analysis (cppcheck, clang-tidy) in build-lint/"
  if ! bash "$root/scripts/lint.sh" -j "$jobs"; then
    failed+=("static analysis")
  fi
fi

if [ "$valgrind" = 1 ]; then
  step "end-to-end tests under valgrind in build-valgrind/"
  if ! bash "$root/scripts/valgrind-e2e.sh" -j "$jobs"; then
    failed+=("valgrind")
  fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "run-tests: FAILED: ${failed[*]}" >&2
  exit 1
fi
