#!/usr/bin/env bash
# The demo (make demo runs it after make build and make dataset): writes 1,000 Fashion-MNIST
# test images as PNG files (100 per class, one folder per class) into demo/images, indexes
# them with bin/pinrec, runs a query with an image the index has never seen (from the train
# split) and a `similar`, writes both answers as grid PNGs, and prints eval figures for the
# model next to a raw-pixel baseline.
#
# Running it again is cheap: the images are only rewritten when they differ and the index syncs.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=bin/pinrec
out=demo
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
[ -x "$bin" ] || { echo "demo: $bin is missing: run make build (or make demo)" >&2; exit 1; }
[ -f "$data/t10k-images-idx3-ubyte.gz" ] || { echo "demo: no Fashion-MNIST in $data: run make dataset" >&2; exit 1; }
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "Fashion-MNIST sample: 100 test images per class -> $out/images; 1 train image per class -> $out/queries"
go run ./examples/fashionmnist -dir "$data" -split test -per-class 100 -out "$out/images"
go run ./examples/fashionmnist -dir "$data" -split train -per-class 1 -out "$out/queries"

step "pinrec index -index $out/index.pinrec $out/images"
"$bin" index -index "$out/index.pinrec" "$out/images"

step "pinrec index -embedding pixels -index $out/pixels.pinrec $out/images   (the raw-pixel baseline)"
"$bin" index -embedding pixels -index "$out/pixels.pinrec" "$out/images"

query=$(ls "$out"/queries/Sneaker/*.png | head -n 1)
step "pinrec query -index $out/index.pinrec -grid $out/query-grid.png $query   (a train image, not in the index)"
"$bin" query -index "$out/index.pinrec" -grid "$out/query-grid.png" "$query"

id=$("$bin" ls -index "$out/index.pinrec" | grep '^Ankle_boot/' | head -n 1)
step "pinrec similar -index $out/index.pinrec -grid $out/similar-grid.png $id"
"$bin" similar -index "$out/index.pinrec" -grid "$out/similar-grid.png" "$id"

step "pinrec similar -index $out/pixels.pinrec -grid $out/similar-pixels-grid.png $id   (baseline)"
"$bin" similar -index "$out/pixels.pinrec" -grid "$out/similar-pixels-grid.png" "$id"

step "pinrec eval -index $out/index.pinrec   (ResNet50 embeddings)"
"$bin" eval -index "$out/index.pinrec" | tee "$out/eval-model.txt"
step "pinrec eval -index $out/pixels.pinrec   (raw pixels, 16x16 RGB: the baseline)"
"$bin" eval -index "$out/pixels.pinrec" | tee "$out/eval-pixels.txt"

step "pinrec stats -index $out/index.pinrec"
"$bin" stats -index "$out/index.pinrec"

pretrained=$("$bin" stats -json -index "$out/index.pinrec" | grep '"pretrained"' | grep -c true || true)
weights=$("$bin" stats -json -index "$out/index.pinrec" | sed -n 's/.*"weights": "\(.*\)",*$/\1/p')
step "Result"
echo "grid PNGs: $out/query-grid.png, $out/similar-grid.png, $out/similar-pixels-grid.png"
echo "model weights: $weights"
p5() { awk '$1 == 5 { print $2 }' "$1"; }
echo "precision@5 of leave-one-out queries: ResNet50 $(p5 "$out/eval-model.txt"), raw pixels $(p5 "$out/eval-pixels.txt")"
if [ "$pretrained" = 0 ]; then
  cat <<'NOTE'
NOTE: this model has seeded RANDOM weights, not ImageNet ones (make setup falls back to them when
the ImageNet weights cannot be downloaded, as on a machine without internet access). Its
embeddings are not semantically meaningful,
so "more like this" here means little more than "similar pixels pushed through a random network";
compare the eval figures above with the raw-pixel baseline. On a machine with internet access,
`rm -rf models/resnet50 && make setup` exports the ImageNet weights, then run `make demo` again.
NOTE
fi
