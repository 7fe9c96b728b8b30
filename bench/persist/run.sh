#!/usr/bin/env bash
# Save and load throughput of a 100,000 x 2048 index (an 819 MB file), from Go benchmarks
# (persist_test.go), best of BENCH_RUNS runs of 3 operations each, in GB/s of file bytes:
#
#   save_gbps       Index.Save: encode, write, fsync the file, rename, fsync the directory
#   load_gbps       Load from a warm page cache: read into the heap, CRC-32C, finite check, decode
#   load_mmap_gbps  Load(path, WithMmap()) from a warm page cache: map, CRC-32C, finite check
#
# The figures depend on the disk and on what else runs: compare runs side by side on one machine.
# make bench-persist runs it from the repository root. BENCH_BIG=1 adds the time from opening a
# memory-mapped 1M x 2048 index (an 8 GB file, written to BENCH_DIR, deleted afterwards) to its
# first search answer.
#
#   BENCH_RUNS=5 BENCH_DIR=/tmp BENCH_BIG=0 bench/persist/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${BENCH_RUNS:-5}
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
export PINREC_BENCH_DIR=$dir

out=$(go test -run '^$' -bench '^BenchmarkPersist(Save|Load|LoadMmap)$/^n=100000_d=2048$' \
  -benchtime 3x -count "$runs" -benchmem -timeout 30m . | tee /dev/stderr)

if [ "${BENCH_BIG:-0}" = 1 ]; then
  PINREC_BENCH_BIG=1 go test -run '^$' -bench '^BenchmarkPersistMmapOpen$/^n=1000000_d=2048$' \
    -benchtime 1x -timeout 30m . | grep -E '^Benchmark' >&2
fi

# best NAME: the highest MB/s of the benchmark lines whose name starts with NAME, in GB/s.
best() {
  awk -v name="$1" 'index($1, name) == 1 {
      for (i = 2; i < NF; i++) if ($(i + 1) == "MB/s" && $i + 0 > b) b = $i + 0
    } END { printf "%.2f\n", b / 1000 }' <<<"$out"
}
echo "load_mmap_gbps=$(best BenchmarkPersistLoadMmap/)"
echo "save_gbps=$(best BenchmarkPersistSave/)"
echo "load_gbps=$(best BenchmarkPersistLoad/)"
