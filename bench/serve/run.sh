#!/usr/bin/env bash
# make bench-serve: the load test of `pinrec serve`. It indexes 10,000 Fashion-MNIST test images
# (1,000 per class) with the raw-pixel embedding (16x16 RGB, 768-d: indexing 10k images with the
# ResNet50 model would take many minutes on this machine; the search cost of a 768-d flat index is
# about 3/8 of a 2048-d one), serves it on 127.0.0.1 (a free port), and runs bench/serve:
# CLIENTS concurrent clients mixing GET /api/similar/{id}, POST /api/query (uploads of Fashion-MNIST
# train images, embedded per request) and GET /image/{id} for DURATION. Then it stops the server with
# SIGTERM and checks it drained and exited 0. Ends with name=value lines.
#
# Then the stranger phases: STUFF_SAVES (2,000) anonymous saves of one item from one address and
# the item pages (STUFF_PAGES of them, spread over the index) whose first hybrid result it is
# (serve_stuffing_top1_pages, goal 0); UPLOADS (24) parallel uploads of UPLOAD_SIZE (31 MB) bytes
# and the server's peak resident memory meanwhile (serve_upload_peak_rss_mb, goal <= 1.2 x idle +
# upload slots x the 32 MiB limit).
#
#   CLIENTS=8 DURATION=20s MIX=similar=6,query=2,image=2 STUFF_PAGES=1000 PER_CLASS=1000 make bench-serve
#
# With BENCH_ANN_N, BENCH_ANN_DIR or BENCH_ANN_FILE set it runs the approximate-index phase
# instead: `pinrec serve` on an hnsw index file, timed from the process's start to its first
# answer to GET /api/similar (serve_ann_start_s), then CLIENTS (default 4) clients sending
# only similar requests (k=20) for DURATION (serve_ann_similar_p50_ms, _p99_ms). The file is
#   BENCH_ANN_FILE  an hnsw index made by `pinrec build-ann` (served as it is), or
#   BENCH_ANN_DIR   a bench-ann data folder kept by BENCH_KEEP=1 (exact.idx + ann.idx: the
#                   graph as bench-ann built and calibrated it), or
#   BENCH_ANN_N     that many synthetic CNN-shaped vectors (internal/synth) of the model's
#                   dimension, built with ann.Build's defaults on 2 workers,
# the last two combined into $out/ann-*.idx (reused when present) with the model's metadata,
# which serve checks (it loads the model, as for any index, to embed uploads). The requests
# sent while serve still checks the mapped file against its checksum in the background (it
# logs the end; its log goes to $out/serve-ann.log) are also reported apart from those sent
# after it; STEADY (e.g. 20s) then measures that long again once the check has ended
# (serve_ann_steady_*).
#
#   BENCH_ANN_N=100000 make bench-serve
#   BENCH_ANN_N=100000 STEADY=20s make bench-serve
#   BENCH_ANN_DIR=/big/tmp/pinrec-bench-ann.XXXXXX/synth make bench-serve
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=bin/pinrec
out=.cache/bench-serve
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
clients=${CLIENTS:-8}
duration=${DURATION:-20s}
mix=${MIX:-similar=6,query=2,image=2}
[ -x "$bin" ] || { echo "bench-serve: $bin is missing: run make build" >&2; exit 1; }
mkdir -p "$out"

if [ -n "${BENCH_ANN_N:-}${BENCH_ANN_DIR:-}${BENCH_ANN_FILE:-}" ]; then
  echo "bench-serve (approximate index) on $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
  go build -o "$out/benchserve" ./bench/serve
  file=${BENCH_ANN_FILE:-}
  if [ -z "$file" ]; then
    if [ -n "${BENCH_ANN_DIR:-}" ]; then
      file=$out/ann-$(basename "$(dirname "$BENCH_ANN_DIR")")-$(basename "$BENCH_ANN_DIR").idx
      [ -s "$file" ] || "$out/benchserve" -prepare-ann "$file" -ann-dir "$BENCH_ANN_DIR" -model "${PINREC_MODEL:-models/resnet50}"
    else
      file=$out/ann-synth-$BENCH_ANN_N.idx
      [ -s "$file" ] || "$out/benchserve" -prepare-ann "$file" -ann-n "$BENCH_ANN_N" -model "${PINREC_MODEL:-models/resnet50}"
    fi
  fi
  echo "== pinrec serve -index $file; load: $(uptime | sed 's/.*load average/load average/')"
  "$out/benchserve" -serve-ann "$file" -bin "$bin" -clients "${CLIENTS:-4}" -duration "$duration" \
    -steady "${STEADY:-0}" -serve-log "$out/serve-ann.log"
  echo "load after: $(uptime | sed 's/.*load average/load average/')"
  exit 0
fi

rm -rf "$out/images" "$out/pixels.pinrec"
echo "== ${PER_CLASS:-1000} Fashion-MNIST test images per class -> $out/images, 50 train images -> $out/queries"
go run ./examples/fashionmnist -dir "$data" -split test -per-class "${PER_CLASS:-1000}" -out "$out/images" >/dev/null
go run ./examples/fashionmnist -dir "$data" -split train -per-class 5 -out "$out/queries" >/dev/null
echo "== pinrec index -embedding pixels -index $out/pixels.pinrec $out/images"
"$bin" index -embedding pixels -index "$out/pixels.pinrec" "$out/images" 2>/dev/null | tail -n 1
go build -o "$out/benchserve" ./bench/serve

log=$out/serve.log
# A fresh engagement database: the stuffing phase starts from no likes or saves.
rm -f "$out/pixels.pinrec.engage.db"*
"$bin" serve -index "$out/pixels.pinrec" -addr 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's|.* on \(http://127\.0\.0\.1:[0-9]*\)/ .*|\1|p' "$log" | head -n 1)
  [ -n "$addr" ] && curl -fsS "$addr/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "bench-serve: the server exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$addr" ] || { echo "bench-serve: the server did not come up in 20 s" >&2; cat "$log" >&2; exit 1; }
echo "== pinrec serve on $addr; load: $(uptime | sed 's/.*load average/load average/')"
"$out/benchserve" -url "$addr" -clients "$clients" -duration "$duration" -mix "$mix" -queries "$out/queries" \
  -stuff-saves "${STUFF_SAVES:-2000}" -stuff-pages "${STUFF_PAGES:-1000}" \
  -pid "$pid" -uploads "${UPLOADS:-24}" -upload-size "${UPLOAD_SIZE:-31000000}" -upload-slots "$(nproc)"
echo "load after: $(uptime | sed 's/.*load average/load average/')"

kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
trap - EXIT
lines=$(grep -c ' /api/\| /image/' "$log" || true)
echo "server log: $lines request lines in $log; exit status after SIGTERM: $rc"
echo "serve_shutdown_exit=$rc"
