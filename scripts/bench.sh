#!/usr/bin/env bash
# bench.sh - every benchmark of bench/, one after the other, then all their
# tables together: install what is missing (scripts/install-deps.sh), build
# optimised in build-bench/, then
#   1. bench_envelope   envelope and whole wrapper MB/s beside openssl speed
#   2. bench_rules      rule evaluation, 1/100/1,000 rules, 100 KB and 10 MB
#   3. milter_memory    milter peak memory: 50 MB, and 20 x 5 MB at once
#   4. mta_bench        through a private Postfix: bare, null milter,
#                       mailseal (rules, encrypt), OpenDKIM; latency
#   5. viewer_bench     the viewer in Chromium, Firefox and WebKit
# Needs root (private Postfix instances).  Each table also goes to
# build-bench/results/NAME.txt.  Options: --quick (a smoke run: fewer
# messages and repetitions, about 5 minutes), --only NAME[,NAME] (run some
# of envelope, rules, memory, mta, viewer).  The full run takes about 30
# minutes on 2 cores.  Exit non-zero when a benchmark failed (a missed
# target is reported in the tables, not as a failure).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

quick=0
only="envelope,rules,memory,mta,viewer"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }

if [ "$(id -u)" -ne 0 ]; then
  echo "bench: run as root (the MTA benchmarks start private Postfix instances)" >&2
  exit 2
fi

step() { printf '\n==== %s ====\n' "$*" >&2; }

step "dependencies"
bash "$root/scripts/install-deps.sh" >&2

step "build (RelWithDebInfo, build-bench/)"
build=$root/build-bench
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILSEAL_TESTS=OFF >&2
cmake --build "$build" -j "$(nproc)" >&2
results=$build/results
rm -rf "$results"
mkdir -p "$results"

failed=0
# run NAME CMD... - one benchmark; its output to the terminal and results/NAME.txt
run() {
  local name=$1; shift
  step "$name: $*"
  if ! "$@" | tee "$results/$name.txt"; then
    echo "bench: $name failed" >&2
    failed=1
  fi
}

if [ $quick = 1 ]; then
  wants envelope && run envelope "$build/bench/bench_envelope" -r 5
  wants rules && run rules "$build/bench/bench_rules" -r 5
  wants memory && run memory python3 bench/milter_memory.py --build "$build"
  wants mta && run mta python3 bench/mta_bench.py --build "$build" --quick
  wants viewer && run viewer python3 bench/viewer_bench.py --build "$build" -r 1 \
    --engines chromium,firefox,webkit
else
  wants envelope && run envelope "$build/bench/bench_envelope"
  wants rules && run rules "$build/bench/bench_rules"
  wants memory && run memory python3 bench/milter_memory.py --build "$build"
  wants mta && run mta python3 bench/mta_bench.py --build "$build"
  wants viewer && run viewer python3 bench/viewer_bench.py --build "$build" -r 5 \
    --engines chromium,firefox,webkit
fi

printf '\n==================== mailseal benchmarks: %s, %s cores ====================\n' \
  "$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')" "$(nproc)"
for name in envelope rules memory mta viewer; do
  [ -s "$results/$name.txt" ] || continue
  printf '\n--- %s ---\n' "$name"
  cat "$results/$name.txt"
done
exit $failed
