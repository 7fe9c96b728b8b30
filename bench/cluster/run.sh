#!/usr/bin/env bash
# make bench-cluster: the same synthetic embeddings in pinrec's exact Index and in a 3-node
# Weaviate cluster (replication 3) on 127.0.0.1: recall@10 of Weaviate's HNSW against the exact
# top 10 (default ef and a sweep), searches/s from 8 clients, ingest rate, resident memory per
# node, and a node killed under load. Ends with name=value lines.
#
#   BENCH_CLUSTER_N      base vectors (default 100000; about 4 minutes of ingest here)
#   BENCH_CLUSTER_DATA   folder for synth_embeddings.py's output (default .cache/weaviate/synth)
#   SYNTH                path of synth_embeddings.py (default bench/synth_embeddings.py)
#   WEAVIATE_GOMEMLIMIT  GOMEMLIMIT of each node (default 2GiB)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
if [ -z "${CGO_CFLAGS:-}" ] && [ -f .venv/tf/env.sh ]; then . .venv/tf/env.sh; fi  # run outside make too
N=${BENCH_CLUSTER_N:-100000}
DATA=${BENCH_CLUSTER_DATA:-$ROOT/.cache/weaviate/synth}
SYNTH=${SYNTH:-$ROOT/bench/synth_embeddings.py}
PY=${PINREC_PYTHON:-$ROOT/.venv/bin/python}
export WEAVIATE_GOMEMLIMIT=${WEAVIATE_GOMEMLIMIT:-2GiB}
DIR=$ROOT/.cache/weaviate/bench

have=$(sed -n 's/.*"n": *\([0-9]*\).*/\1/p' "$DATA/meta.json" 2>/dev/null || true)
if [ -z "$have" ] || [ "$have" -lt "$N" ]; then
	echo "generating $N synthetic 2048-d embeddings into $DATA" >&2
	"$PY" "$SYNTH" --out "$DATA" --n "$N" --nq 200 --seed 1 >&2
fi

"$ROOT/tools/weaviate.sh" build
trap '"$ROOT/tools/weaviate.sh" stop "$DIR"' EXIT
env=$("$ROOT/tools/weaviate.sh" start 3 "$DIR")
hosts=$(sed -n 's/^WEAVIATE_HTTP=//p' <<<"$env")
cd weaviate
go run ./bench/cluster -data "$DATA" -n "$N" -hosts "$hosts" -cluster "$DIR" -script "$ROOT/tools/weaviate.sh"
