#!/usr/bin/env python3
"""The Python side of bench/embed/run.sh: Keras' own embedding path on a folder of images.

    bench_embed.py make-images DIR N           writes N deterministic 640x480 JPEG photos-alike
    bench_embed.py keras --model M --images DIR --intra 2 --inter 1 --batch 1,8 --repeat 3 [--savedmodel]

keras: for each batch size, best of --repeat passes over every image of DIR, each batch being
keras.utils.load_img(path, target_size=(224, 224), interpolation="bilinear") per image (Pillow),
img_to_array, keras.applications.resnet50.preprocess_input, then model(x): Keras' own ResNet50
layers holding the weights of the SavedModel in M. Prints keras_b<N>_img_s=... lines (and the
least CPU time per image, keras_b<N>_cpu_ms_per_img). With
--savedmodel it also times the SavedModel's serving signature called from Python (a tf.function
graph, as Go runs it) on the same loading: savedmodel_b<N>_img_s=....
TensorFlow's thread pools are set to --intra/--inter before anything runs (0: TensorFlow's default).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))  # keras_reference

import numpy as np  # noqa: E402


def make_images(out, n, w=640, h=480, seed=0):
    """Smooth colour fields with shapes and a little noise: JPEGs of photo-like size and entropy."""
    from PIL import Image, ImageDraw, ImageFilter

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        base = np.zeros((h, w, 3), np.float32)
        for c in range(3):
            fx, fy, ph = rng.uniform(0.002, 0.02), rng.uniform(0.002, 0.02), rng.uniform(0, 6.3)
            base[..., c] = 128 + 100 * np.sin(fx * xx + ph) * np.cos(fy * yy - ph)
        base += rng.normal(0, 6, base.shape)
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(img)
        for _ in range(12):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            x1, y1 = x0 + rng.integers(20, 200), y0 + rng.integers(20, 200)
            col = tuple(int(v) for v in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=col)
        img = img.filter(ImageFilter.GaussianBlur(1.2))
        img.save(os.path.join(out, f"bench{i:03d}.jpg"), quality=90)


def timed_best(repeat, n, fn):
    """Best rate (images/s) and least CPU time per image (ms, all threads) over repeat passes."""
    best, cpu = 0.0, float("inf")
    for _ in range(max(repeat, 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = max(best, n / (time.perf_counter() - t0))
        cpu = min(cpu, (time.process_time() - c0) * 1000 / n)
    return best, cpu


def run_keras(args):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    import keras
    import keras_reference as kr

    paths = sorted(os.path.join(args.images, f) for f in os.listdir(args.images))
    paths = [p for p in paths if os.path.isfile(p)]
    if not paths:
        raise SystemExit(f"bench_embed: no images in {args.images}")
    meta, sm = kr.load_saved_model(args.model)
    model = kr.keras_model(args.model, sm.loaded)
    size = meta["input_size"]

    def load(batch):
        xs = [keras.utils.img_to_array(keras.utils.load_img(p, target_size=(size, size), interpolation="bilinear")) for p in batch]
        return keras.applications.resnet50.preprocess_input(np.stack(xs))

    def keras_pass(bs):
        for i in range(0, len(paths), bs):
            model(load(paths[i : i + bs])).numpy()

    def sm_pass(bs):
        for i in range(0, len(paths), bs):
            sm(load(paths[i : i + bs]))

    for bs in [int(b) for b in args.batch.split(",")]:
        model(load(paths[:bs]))  # warm-up
        rate, cpu = timed_best(args.repeat, len(paths), lambda: keras_pass(bs))
        print(f"keras_b{bs}_img_s={rate:.3f}\nkeras_b{bs}_cpu_ms_per_img={cpu:.1f}", flush=True)
        if args.savedmodel:
            sm(load(paths[:bs]))
            rate, cpu = timed_best(args.repeat, len(paths), lambda: sm_pass(bs))
            print(f"savedmodel_b{bs}_img_s={rate:.3f}\nsavedmodel_b{bs}_cpu_ms_per_img={cpu:.1f}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make-images")
    mk.add_argument("dir")
    mk.add_argument("n", type=int)
    k = sub.add_parser("keras")
    k.add_argument("--model", required=True)
    k.add_argument("--images", required=True)
    k.add_argument("--intra", type=int, default=0)
    k.add_argument("--inter", type=int, default=0)
    k.add_argument("--batch", default="1,8")
    k.add_argument("--repeat", type=int, default=3)
    k.add_argument("--savedmodel", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "make-images":
        make_images(args.dir, args.n)
    else:
        run_keras(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
