#!/usr/bin/env bash
# Near-duplicate grouping (package dupes) on edited copies of distinct pictures, and its speed
# through the approximate index. `make bench-dupes` runs it from the repository root; about
# 5-10 minutes on 2 cores at the sizes below (embedding with the model is most of it).
#
# Environment: BENCH_DUPES_DISTINCT (1000 Fashion-MNIST pictures), BENCH_DUPES_ORIGINALS (150
# of them get copies, plus the 4 photos), BENCH_DUPES_COPIES (2 edited copies each, kinds in
# turn), BENCH_DUPES_N (20000 synthetic vectors for the speed part; 0 skips it),
# BENCH_DUPES_DIM (2048), BENCH_SEED (1), PINREC_MODEL.
#
# The model has seeded RANDOM weights (the figures say so). The last lines are name=value pairs:
# dupes_precision, dupes_recall (mild edits), dupes_flip_recall, dupes_control_groups (groups
# found among the distinct pictures alone: all false), the same for _pixels,
# _pixels_norm and _dhash, dupes_synth_n, dupes_seconds_per_item and dupes_ratio_vs_search (CPU
# time of the process, which other load moves less than wall time), dupes_wall_ratio_vs_search,
# and dupes_1m_seconds and dupes_1m_cpu_seconds (EXTRAPOLATED from dupes_synth_n, not measured).
set -euo pipefail
cd "$(dirname "$0")/../.."
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
mkdir -p bin
go build -o bin/benchdupes ./bench/dupes
echo "bench-dupes: load before: $(uptime)"
bin/benchdupes -model "${PINREC_MODEL:-models/resnet50}" \
  -distinct "${BENCH_DUPES_DISTINCT:-1000}" -originals "${BENCH_DUPES_ORIGINALS:-150}" \
  -copies "${BENCH_DUPES_COPIES:-2}" -synth-n "${BENCH_DUPES_N:-20000}" \
  -synth-dim "${BENCH_DUPES_DIM:-2048}" -seed "${BENCH_SEED:-1}" | {
  # the name=value lines last, after the load
  lines=(); while IFS= read -r l; do if [[ $l == *=* && $l != *" "* ]]; then lines+=("$l"); else echo "$l"; fi; done
  echo "bench-dupes: load after: $(uptime)"
  printf '%s\n' "${lines[@]}"
}
