"""Fashion-MNIST as an ANN benchmark data set for bench/ann/run.sh (BENCH_DATA=fashion).

  fashion.py --out D [--src /usr/share/datasets/fashion-mnist] [--n 60000] [--nq 1000]

Writes D/base.f32 (the first --n of the 60,000 training images as 784 float32 pixel values
0..255, row-major, little-endian), D/queries.f32 (the first --nq of the 10,000 test images) and
D/meta.json, as bench/synth_embeddings.py does: the public ann-benchmarks set
fashion-mnist-784-euclidean. The files come from Debian's dataset-fashion-mnist (make dataset).
"""

import argparse
import gzip
import json
import os

import numpy as np


def images(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    n, rows, cols = (int.from_bytes(b[i : i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(b, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--n", type=int, default=60000)
    ap.add_argument("--nq", type=int, default=1000)
    a = ap.parse_args()
    train = images(os.path.join(a.src, "train-images-idx3-ubyte.gz"))[: a.n]
    test = images(os.path.join(a.src, "t10k-images-idx3-ubyte.gz"))[: a.nq]
    os.makedirs(a.out, exist_ok=True)
    train.astype("<f4").tofile(os.path.join(a.out, "base.f32"))
    test.astype("<f4").tofile(os.path.join(a.out, "queries.f32"))
    meta = {"n": len(train), "nq": len(test), "d": train.shape[1], "source": "fashion-mnist"}
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()
