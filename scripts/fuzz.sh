#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses of fuzz/ with clang in build-fuzz/
# (-DMAILSEAL_FUZZ=ON, ASan + UBSan) and run each for a set time, at nice 10.
#
#   scripts/fuzz.sh [--time SECONDS] [--only NAME,...] [--jobs N]
#                   [--workdir DIR] [--no-build] [--build-only]
#
# --time: seconds per harness (default 60); --only: the harnesses to run
# (default all: model header rules sensitive envelope); --jobs: harnesses
# run at the same time (default 1); --workdir: where the working corpora
# live (default /var/tmp/mailseal-fuzz; DIR/NAME/corpus, DIR/NAME/crashes,
# DIR/NAME/fuzz.log), never inside the repository.  Seeds: fuzz/seeds/NAME,
# fuzz/regressions/NAME and, for model and header, the messages in
# ../shared/corpus when that folder exists (read in place, never copied).
# Prints per harness: runs, execs/s, coverage (edges, features), corpus
# size and crashes.  Exits 1 when any harness found a crash in this run
# (the inputs are left in DIR/NAME/crashes, named crash-*, leak-*,
# timeout-* or oom-*; older ones there are not counted again),
# 2 on a usage or build error.  Needs clang and llvm (installed if missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
all=(model header rules sensitive envelope)
time=60
only=
jobs=1
workdir=/var/tmp/mailseal-fuzz
build=1
run=1

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --time) time=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --build-only) run=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fuzz: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$time$jobs" in *[!0-9]*) echo "fuzz: --time and --jobs take numbers" >&2; exit 2 ;; esac
[ "$jobs" -ge 1 ] || jobs=1

names=("${all[@]}")
if [ -n "$only" ]; then
  IFS=, read -r -a names <<<"$only"
  for n in "${names[@]}"; do
    case " ${all[*]} " in *" $n "*) ;; *) echo "fuzz: unknown harness $n" >&2; exit 2 ;; esac
  done
fi
case "$(cd "$(dirname "$workdir")" 2>/dev/null && pwd)/" in
  "$root"/*) echo "fuzz: the working corpora must live outside the repository" >&2; exit 2 ;;
esac

# per harness: longest input, dictionary
declare -A max_len=([model]=65536 [header]=4096 [rules]=16384 [sensitive]=16384 [envelope]=32768)
declare -A dict=([model]=mime [header]=mime [rules]=yaml [sensitive]=sensitive [envelope]=envelope)

if [ "$build" = 1 ]; then
  if ! command -v clang >/dev/null || ! command -v llvm-symbolizer >/dev/null; then
    echo "fuzz: installing clang and llvm" >&2
    apt-get install -y clang llvm >/dev/null
  fi
  dir=$root/build-fuzz
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  CC=clang cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER=clang -DMAILSEAL_FUZZ=ON \
    -DMAILSEAL_SANITIZE=ON -DMAILSEAL_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
    { echo "fuzz: configure failed" >&2; exit 2; }
  targets=()
  for n in "${names[@]}"; do targets+=(--target "fuzz_$n"); done
  nice -n 10 cmake --build "$dir" -j"$(nproc 2>/dev/null || echo 2)" "${targets[@]}" ||
    { echo "fuzz: build failed" >&2; exit 2; }
fi
[ "$run" = 1 ] || exit 0

shared=$(cd "$root/.." && pwd)/shared/corpus
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_one NAME - one harness for $time seconds; its summary in DIR/NAME/summary
run_one() {
  local n=$1 d=$workdir/$1 bin=$root/build-fuzz/fuzz/fuzz_$1
  local seeds=("$root/fuzz/seeds/$n")
  [ -d "$root/fuzz/regressions/$n" ] && seeds+=("$root/fuzz/regressions/$n")
  if [ -d "$shared" ] && { [ "$n" = model ] || [ "$n" = header ]; }; then seeds+=("$shared"); fi
  mkdir -p "$d/corpus" "$d/crashes"
  if [ ! -x "$bin" ]; then
    echo "$n: not built ($bin)" >"$d/summary"
    echo 1 >"$d/status"
    return
  fi
  local rc=0
  touch "$d/.start"
  nice -n 10 "$bin" -max_total_time="$time" -max_len="${max_len[$n]}" \
    -dict="$root/fuzz/dict/${dict[$n]}.dict" -artifact_prefix="$d/crashes/" \
    -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -reload=0 \
    "$d/corpus" "${seeds[@]}" >"$d/fuzz.log" 2>&1 || rc=$?
  local runs eps cov ft corpus crashes
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/fuzz.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$d/fuzz.log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$d/fuzz.log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$d/corpus" -type f | wc -l)
  crashes=$(find "$d/crashes" -type f -newer "$d/.start" | wc -l)
  printf '%-10s runs %-10s execs/s %-7s cov %-6s ft %-7s corpus %-6s crashes %s%s\n' \
    "$n" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes" \
    "$( [ "$crashes" -gt 0 ] && echo " (in $d/crashes, log $d/fuzz.log)")" >"$d/summary"
  if [ "$crashes" -gt 0 ] || [ "$rc" -ne 0 ]; then echo 1 >"$d/status"; else echo 0 >"$d/status"; fi
}

echo "fuzz: ${names[*]}, ${time}s each, $jobs at a time, corpora in $workdir"
running=0
for n in "${names[@]}"; do
  rm -f "$workdir/$n/summary" "$workdir/$n/status"
  run_one "$n" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
for n in "${names[@]}"; do
  cat "$workdir/$n/summary" 2>/dev/null || echo "$n: no result"
  [ "$(cat "$workdir/$n/status" 2>/dev/null || echo 1)" = 0 ] || failed=1
done
if [ "$failed" = 1 ]; then
  echo "fuzz: FOUND CRASHES (or a harness failed): see the crashes folders above" >&2
  exit 1
fi
