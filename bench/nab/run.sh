#!/usr/bin/env bash
# Scores pgwarden's default detector on the Numenta Anomaly Benchmark.
#
#   bench/nab/run.sh [PGWARDEN_BINARY] [WORK_DIR]
#
# PGWARDEN_BINARY (default build/pgwarden) must accept
# `replay [--set K=V] --input F --output F`; build-*/bench/nab/nab_replay
# accepts the same. Runs the default detector with no --set over every CSV in
# $NAB_DIR/data (default /work/shared/nab), writes
# WORK_DIR/RESULTS/pgwarden/<category>/pgwarden_<file>.csv (WORK_DIR defaults
# to a fresh temp dir; never under $NAB_DIR) and prints the standard,
# reward_low_FP_rate and reward_low_FN_rate scores.
# For experiments only: NAB_SET="key=value key=value" adds --set flags and
# NAB_DETECTOR names another detector; the reported score uses neither.
set -euo pipefail

BIN=${1:-build/pgwarden}
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/pgwarden-nab.XXXXXX")}
NAB_DIR=${NAB_DIR:-/work/shared/nab}
NAME=pgwarden
JOBS=${JOBS:-2}

if [[ ! -x "$BIN" ]]; then
  echo "run.sh: $BIN is not an executable (build it, or pass its path as \$1)" >&2
  exit 2
fi
case "$(realpath -m "$WORK")/" in
  "$(realpath -m "$NAB_DIR")"/*) echo "run.sh: refusing to write under $NAB_DIR" >&2; exit 2 ;;
esac

EXTRA=()
if [[ -n "${NAB_DETECTOR:-}" ]]; then EXTRA+=(--detector "$NAB_DETECTOR"); fi
for kv in ${NAB_SET:-}; do EXTRA+=(--set "$kv"); done

mkdir -p "$WORK"
RESULTS="$WORK/RESULTS"
rm -rf "$RESULTS/$NAME"
export BIN RESULTS NAME
export EXTRA_ARGS="${EXTRA[*]:-}"
n=0
(cd "$NAB_DIR/data" && find . -mindepth 2 -name '*.csv' | sort) > "$WORK/files.txt"
while read -r rel; do
  cat=$(dirname "${rel#./}")
  mkdir -p "$RESULTS/$NAME/$cat"
  n=$((n + 1))
done < "$WORK/files.txt"
start=$(date +%s.%N)
# One replay per file, $JOBS at a time; any failure fails the run.
xargs -P "$JOBS" -I{} sh -c '
  rel="${1#./}"; cat=$(dirname "$rel"); file=$(basename "$rel")
  exec "$BIN" replay $EXTRA_ARGS --input "$2/$rel" --output "$RESULTS/$NAME/$cat/${NAME}_$file"
' _ {} "$NAB_DIR/data" < "$WORK/files.txt"
end=$(date +%s.%N)
echo "replayed $n files in $(echo "$end - $start" | bc) s; results in $RESULTS/$NAME"
python3 "$NAB_DIR/nab_score.py" --data "$NAB_DIR/data" \
  --windows "$NAB_DIR/labels/combined_windows.json" --results "$RESULTS" \
  --detector "$NAME" --profile all
