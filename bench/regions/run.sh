#!/usr/bin/env bash
# Region items and crop queries on a SIMULATION built from Fashion-MNIST ("outfit" pins of 2-4
# items on a canvas, single-item pins; bench/regions/main.go says how). `make bench-regions` runs it
# from the repo root; a few minutes on 2 cores (the sizes below), longer on a busy machine.
#
# Environment: BENCH_OUTFITS (100), BENCH_SINGLES (100), BENCH_QUERIES (40), BENCH_CROPS (30),
# BENCH_REGIONS (region items per pin, 8), BENCH_REPEAT (index timings, best of; 1),
# BENCH_SEED (1), PINREC_MODEL.
#
# The last lines are name=value pairs: region_recall_at_10, whole_recall_at_10, region_gain,
# crop_precision_at_10, regions_index_cost.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${CGO_CFLAGS:-}" ] && [ -f .venv/tf/env.sh ]; then . .venv/tf/env.sh; fi  # run outside make too
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
mkdir -p bin
go build -o bin/benchregions ./bench/regions
echo "bench-regions: load before: $(uptime)"
bin/benchregions -model "${PINREC_MODEL:-models/resnet50}" \
  -outfits "${BENCH_OUTFITS:-100}" -singles "${BENCH_SINGLES:-100}" \
  -queries "${BENCH_QUERIES:-40}" -crops "${BENCH_CROPS:-30}" \
  -regions "${BENCH_REGIONS:-8}" -repeat "${BENCH_REPEAT:-1}" -seed "${BENCH_SEED:-1}" | {
  # the name=value lines last, after the load
  lines=(); while IFS= read -r l; do if [[ $l == *=* && $l != *" "* ]]; then lines+=("$l"); else echo "$l"; fi; done
  echo "bench-regions: load after: $(uptime)"
  printf '%s\n' "${lines[@]}"
}
