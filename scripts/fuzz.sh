#!/usr/bin/env bash
# Fuzzes each target in fuzz/ for a bounded time and reports its executions
# and whether it crashed: scripts/fuzz.sh [seconds-per-target] [target...]
# (default 60 s, every target). Not part of scripts/test or CI. Installs the
# pinned cargo-fuzz into target/ci-tools/ first (nothing global). Exits
# non-zero when a target finds a crash; the input is then under
# fuzz/artifacts/<target>/ (see fuzz/README.md to reproduce it).
#
# FUZZ_SANITIZER=none builds without AddressSanitizer: a quicker build and
# about twice the executions a second, for code that has no `unsafe` of its
# own.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-60}
shift || true
ALL_TARGETS=(classify snapshot_reader metrics_reader trigger_json trigger_shapes keys)
# The targets that need the Lambda adapter.
LAMBDA_TARGETS=" trigger_json trigger_shapes keys "
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
CARGO_FUZZ_VERSION=0.13.2
TOOLS=$PWD/target/ci-tools/cargo-fuzz-$CARGO_FUZZ_VERSION

case $SECONDS_PER_TARGET in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2; exit 2 ;;
esac
for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown target $t (${ALL_TARGETS[*]})" >&2; exit 2; }
done

if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"
# cargo-fuzz passes flags (-Zsanitizer, sanitizer coverage) that only a
# nightly compiler takes; this lets the stable one take them.
export RUSTC_BOOTSTRAP=1

# The core's targets do without the Lambda adapter, whose AWS SDK is most
# of the build.
FLAGS=(--sanitizer "${FUZZ_SANITIZER:-address}")
for t in "${TARGETS[@]}"; do
  if [[ $LAMBDA_TARGETS == *" $t "* ]]; then
    FLAGS+=(--features lambda)
    break
  fi
done

echo "== building ${TARGETS[*]} (${FLAGS[*]})"
start=$(date +%s)
for t in "${TARGETS[@]}"; do
  cargo fuzz build "${FLAGS[@]}" "$t"
done
echo "   built in $(( $(date +%s) - start )) s"

# New corpus entries go to a working directory, so the committed seeds stay
# as they are; kept between runs, so that each run starts where the last
# one stopped.
WORK=fuzz/target/corpus
LOGS=fuzz/target/logs
mkdir -p "$LOGS"

declare -A ARGS=(
  [classify]="-dict=fuzz/dict/classify.dict -max_len=16384"
  [snapshot_reader]="-dict=fuzz/dict/classify.dict -max_len=16384"
  [metrics_reader]="-dict=fuzz/dict/classify.dict -max_len=16384"
  [trigger_json]="-dict=fuzz/dict/trigger.dict"
  [trigger_shapes]=""
  [keys]=""
)

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/$t"
  log=$LOGS/$t.log
  echo "== fuzzing $t for $SECONDS_PER_TARGET s (log: $log)"
  # -timeout: an input that takes this long counts as a hang.
  # shellcheck disable=SC2086
  if cargo fuzz run "${FLAGS[@]}" "$t" "$WORK/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 \
      ${ARGS[$t]} >"$log" 2>&1; then
    status=ok
  else
    status=CRASHED
    failed+=("$t")
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to' "$log" | head -n 8 || true
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # After a crash there are no final stats: the last progress line says.
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  summary+=("$(printf '%-15s %-8s %12s executions  corpus %s files' \
    "$t" "$status" "${runs:-?}" "$(find "$WORK/$t" -type f | wc -l)")")
done

echo
echo "== summary ($SECONDS_PER_TARGET s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs under fuzz/artifacts/, logs under $LOGS/)" >&2
  exit 1
fi
