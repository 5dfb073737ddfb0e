#!/usr/bin/env bash
# Throughput and peak memory of the release CLI on generated CCP logs, next to
# two naive baselines: jq (count the SIGNALING lines) and Python (json.load +
# the Knowledge Center regex, scripts/bench_baseline.py).
#
#   scripts/bench.sh                       # 100 MB and 1 GB logs, every layout
#   BENCH_SIZES="20 100" scripts/bench.sh  # other sizes, in MB
#   BENCH_RUNS=3 scripts/bench.sh          # best of 3 per tool (default 1)
#   BENCH_LAYOUTS="current interleaved" BENCH_FORMATS="pretty ndjson" scripts/bench.sh
#   BENCH_BASELINES_MAX_MB=100 scripts/bench.sh # jq/Python only up to this size
#   BENCH_FILES=200 BENCH_FILE_MB=1 scripts/bench.sh # the many-files run (0 files: skip)
#
# Inputs: target/bench/sample-<N>mb-seed<S>-<layout>.<format>.json, written by
# `ccp-disconnect sample --layout L --format F` with their labels next to
# them. They are regenerated on every run (a 1 GB log takes a few seconds),
# so they always match the built generator. The many-files run classifies
# BENCH_FILES small logs (layouts in turn) with `--jobs 1` and with
# `--jobs 2`, writing `--out` documents, and reports the speed-up.
# Needs /usr/bin/time (Debian/Ubuntu package `time`), jq and python3; a
# missing baseline tool is skipped. Peak RSS is GNU time's "Maximum resident
# set size"; wall time is measured around each command.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${BENCH_SIZES:-"100 1000"}
LAYOUTS=${BENCH_LAYOUTS:-"current interleaved metrics persistent"}
FORMATS=${BENCH_FORMATS:-"pretty"}
BASELINES_MAX_MB=${BENCH_BASELINES_MAX_MB:-100}
FILES=${BENCH_FILES:-200}
FILE_MB=${BENCH_FILE_MB:-1}
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-1}
TARGET=${CARGO_TARGET_DIR:-target}
DIR=$TARGET/bench
BIN=$TARGET/release/ccp-disconnect
# The interpreter itself, not a version-manager shim that would add its own
# start-up time to every run.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)}

if [ ! -x /usr/bin/time ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== installing GNU time (apt-get install time)" >&2
    apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  else
    echo "bench.sh: /usr/bin/time is missing: install the 'time' package" >&2
    exit 2
  fi
fi

echo "== building the release CLI" >&2
cargo build --release --quiet --bin ccp-disconnect
mkdir -p "$DIR"

# run NAME FILE CMD...: best wall time (s) and that run's peak RSS (KiB) of
# CMD with stdout discarded, appended to $RESULTS as "NAME SIZE SECS KIB".
RESULTS=$(mktemp)
TIMEV=$(mktemp)
trap 'rm -f "$RESULTS" "$TIMEV"' EXIT
run() {
  local name=$1 file=$2
  shift 2
  local best="" best_rss="" i start end secs rss
  for ((i = 0; i < RUNS; i++)); do
    start=$(date +%s%N)
    if ! /usr/bin/time -v -o "$TIMEV" "$@" >/dev/null; then
      echo "bench.sh: $name failed on $file" >&2
      return 1
    fi
    end=$(date +%s%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TIMEV")
    if [ -z "$best" ] || awk -v s="$secs" -v b="$best" 'BEGIN { exit !(s < b) }'; then
      best=$secs
      best_rss=$rss
    fi
  done
  echo "$name $(stat -c %s "$file") $best $best_rss $CASE" >>"$RESULTS"
  printf '   %-14s %8.3f s %9.1f MiB\n' "$name" "$best" "$(awk -v k="$best_rss" 'BEGIN { print k / 1024 }')" >&2
}

for mb in $SIZES; do
  for layout in $LAYOUTS; do
    for format in $FORMATS; do
      CASE="$layout/$format"
      file=$DIR/sample-${mb}mb-seed$SEED-$layout.$format.json
      labels=$DIR/sample-${mb}mb-seed$SEED-$layout.$format.labels.json
      echo "== generating $file" >&2
      "$BIN" sample --mb "$mb" --seed "$SEED" --layout "$layout" --format "$format" --labels "$labels" -o "$file"
      cat "$file" >/dev/null # into the page cache: every tool reads it warm
      echo "== $mb MB, $CASE" >&2
      run ccp-disconnect "$file" "$BIN" classify --format json "$file"
      # jq and json.load need the whole document in memory (about 3x its
      # size), and a JSON array: NDJSON is for streaming readers.
      if [ "$format" = ndjson ] || [ "$mb" -gt "$BASELINES_MAX_MB" ]; then
        rm -f "$file"
        continue
      fi
      if command -v jq >/dev/null; then
        run jq "$file" jq '[.[] | select(.text | test("SIGNALING"))] | length' "$file"
      else
        echo "   jq: not installed, skipped" >&2
      fi
      if command -v "$PYTHON" >/dev/null; then
        run python "$file" "$PYTHON" scripts/bench_baseline.py "$file"
      else
        echo "   $PYTHON: not installed, skipped" >&2
      fi
      rm -f "$file" # a 1 GB input per layout would fill a small disk
    done
  done
done

echo
echo "generated CCP logs (seed $SEED), best of $RUNS; ratios are against ccp-disconnect on the same file"
awk '
  BEGIN {
    printf "%-8s %-20s %-15s %9s %9s %12s %10s %9s\n", "input", "layout/format", "tool", "seconds", "MB/s", "peak RSS MiB", "x time", "x RSS"
  }
  {
    name = $1; size = $2; secs = $3; kib = $4; c = $5
    if (name == "ccp-disconnect") { base_s[c] = secs; base_k[c] = kib }
    label = sprintf("%.0f MB", size / 1e6)
    printf "%-8s %-20s %-15s %9.2f %9.1f %12.1f %10.2f %9.1f\n", label, c, name, secs, size / 1e6 / (secs > 0 ? secs : 1e-9), kib / 1024, secs / (base_s[c] > 0 ? base_s[c] : 1e-9), kib / (base_k[c] > 0 ? base_k[c] : 1)
  }
' "$RESULTS"

# Many files: the same work on one worker and on two (the CLI's --jobs).
if [ "$FILES" -gt 0 ]; then
  many=$DIR/many
  rm -rf "$many"
  mkdir -p "$many/in"
  echo "== generating $FILES logs of $FILE_MB MB" >&2
  set -- $LAYOUTS
  for ((i = 0; i < FILES; i++)); do
    layouts=("$@")
    l=${layouts[$((i % ${#layouts[@]}))]}
    "$BIN" sample --mb "$FILE_MB" --seed "$((i + 1))" --layout "$l" -o "$many/in/log-$i.json" 2>/dev/null
  done
  cat "$many"/in/* >/dev/null
  total=$(cat "$many"/in/* | wc -c)
  echo
  echo "$FILES files, $(awk -v b="$total" 'BEGIN { printf "%.1f", b / 1e6 }') MB in all: classify --out DIR FILE..., best of $RUNS"
  printf "%-10s %9s %9s %12s %9s\n" "jobs" "seconds" "MB/s" "peak RSS MiB" "speed-up"
  one=""
  for jobs in 1 2; do
    rm -f "$RESULTS"
    CASE="many/$jobs"
    rm -rf "$many/out"
    run "jobs-$jobs" "$many/in/log-0.json" "$BIN" classify --format json --jobs "$jobs" --out "$many/out" "$many"/in/log-*.json
    read -r _ _ secs kib _ <"$RESULTS"
    [ -n "$one" ] || one=$secs
    awk -v j="$jobs" -v s="$secs" -v k="$kib" -v b="$total" -v o="$one" 'BEGIN { printf "%-10s %9.2f %9.1f %12.1f %9.2f\n", "--jobs " j, s, b / 1e6 / s, k / 1024, o / s }'
  done
  rm -rf "$many"
fi
