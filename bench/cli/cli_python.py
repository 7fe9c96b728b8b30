"""The seed's way of indexing a folder, timed: for each image, keras.utils.load_img,
img_to_array, preprocess_input and model.predict, one image at a time.

    bench_cli_python.py --model models/resnet50 --images DIR [--runs 3] [--threads N]

It runs the same SavedModel that pinrec runs (through keras.layers.TFSMLayer), with TensorFlow's
intra- and inter-op thread pools set to --threads (0: TensorFlow's default). It times only the
loop over the images (not Python's start, the TensorFlow import or the model load), runs it
--runs times and prints each run and the best as `python_images_per_s=<images/s>`.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras.applications.resnet50 import preprocess_input  # noqa: E402

EXTS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    paths = sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(args.images)
        for f in files
        if f.lower().endswith(EXTS)
    )
    if not paths:
        sys.exit(f"bench_cli_python: no images under {args.images}")

    layer = keras.layers.TFSMLayer(args.model, call_endpoint="serving_default")
    inp = keras.Input(shape=(224, 224, 3))
    out = layer(inp)
    if isinstance(out, dict):
        out = next(iter(out.values()))
    model = keras.Model(inp, out)

    best = 0.0
    for run in range(1, args.runs + 1):
        features = []
        t0 = time.perf_counter()
        for p in paths:
            img = keras.utils.load_img(p, target_size=(224, 224))
            x = keras.utils.img_to_array(img)
            x = np.expand_dims(x, axis=0)
            x = preprocess_input(x)
            features.append(model.predict(x, verbose=0)[0])
        dt = time.perf_counter() - t0
        rate = len(paths) / dt
        best = max(best, rate)
        print(f"python run {run}: {len(paths)} images in {dt:.1f} s, {rate:.1f} images/s (dim {features[0].shape[0]})", flush=True)
    print(f"python_images_per_s={best:.2f}")


if __name__ == "__main__":
    main()
