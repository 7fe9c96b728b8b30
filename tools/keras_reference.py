#!/usr/bin/env python3
"""Reference embeddings from Python for pinrec's Keras agreement tests (embed_tf_test.go).

    keras_reference.py --model DIR --inputs X.npy --out-savedmodel A.npy --out-keras B.npy
    keras_reference.py --model DIR --images LIST.txt --out-files E.npy --out-files-inputs XF.npy
    keras_reference.py --model DIR --crops CROPS.txt --crops-dir DIR --out-crops E.npy

--inputs: a float32 array [n, 224, 224, 3] of already preprocessed tensors (written by the Go test
from Go's own preprocessing). They are run through the SavedModel's serving signature (the graph Go
runs) into --out-savedmodel, and through Keras' own ResNet50 layers, rebuilt and loaded with the
SavedModel's weights, into --out-keras.

--images: a text file with one image path per line. Each image goes through Keras' own pipeline,
keras.utils.load_img(path, target_size=(224, 224), interpolation="bilinear") (Pillow),
keras.applications.resnet50.preprocess_input, then the SavedModel: the embeddings go to --out-files
and the preprocessed tensors to --out-files-inputs.

--crops: a text file with one crop per line, "x y w h path" (pixels, after EXIF orientation). Each
image is opened with Pillow, turned upright (ImageOps.exif_transpose), cropped, saved as a PNG file
into --crops-dir, and that file goes through the same Keras pipeline as --images; the embeddings
go to --out-crops (crop parity of pinrec's Embedder.EmbedCrop, regions_tf_test.go).

Outputs are written as .npy files. Nothing is cached: every run recomputes from the model directory.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def load_saved_model(model_dir):
    """Returns (meta, fn) where fn maps a float32 batch to embeddings through the serving signature."""
    import tensorflow as tf

    with open(os.path.join(model_dir, "pinrec.json")) as f:
        meta = json.load(f)
    loaded = tf.saved_model.load(model_dir)
    sig = loaded.signatures[meta.get("signature_key", "serving_default")]
    in_key = meta["signature_input"]
    out_key = meta["signature_output"]

    def run(x):
        return sig(**{in_key: tf.constant(x, dtype=tf.float32)})[out_key].numpy()

    run.loaded = loaded
    return meta, run


def keras_model(model_dir, loaded=None):
    """Keras' own ResNet50 layers, with the weights of the SavedModel in model_dir."""
    import keras
    import tensorflow as tf

    with open(os.path.join(model_dir, "pinrec.json")) as f:
        meta = json.load(f)
    if loaded is None:
        loaded = tf.saved_model.load(model_dir)
    size = meta["input_size"]
    model = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    weights = getattr(loaded, "keras_weights", None) or loaded.variables
    saved = {v.name.rsplit(":", 1)[0]: v for v in weights}
    missing = []
    for w in model.weights:
        v = saved.get(w.path)
        if v is None or tuple(v.shape) != tuple(w.shape):
            missing.append(w.path)
            continue
        w.assign(v.numpy())
    if missing:
        raise SystemExit(f"keras_reference: {len(missing)} Keras weights not found in the SavedModel, e.g. {missing[:3]}")
    return model


def keras_load(paths, size):
    """Keras' loading and preprocessing: Pillow bilinear resize, then caffe-mode preprocess_input."""
    import keras

    xs = []
    for p in paths:
        img = keras.utils.load_img(p, target_size=(size, size), interpolation="bilinear")
        xs.append(keras.utils.img_to_array(img, dtype="float32"))
    x = np.stack(xs)
    return keras.applications.resnet50.preprocess_input(x)


def batched(fn, x, bs=8):
    return np.concatenate([fn(x[i : i + bs]) for i in range(0, len(x), bs)]) if len(x) else np.zeros((0,), np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs")
    ap.add_argument("--out-savedmodel")
    ap.add_argument("--out-keras")
    ap.add_argument("--images")
    ap.add_argument("--out-files")
    ap.add_argument("--out-files-inputs")
    ap.add_argument("--crops")
    ap.add_argument("--crops-dir")
    ap.add_argument("--out-crops")
    args = ap.parse_args(argv)

    meta, run = load_saved_model(args.model)
    if meta.get("preprocess") != "caffe":
        raise SystemExit(f"keras_reference: preprocess {meta.get('preprocess')!r}: only caffe (ResNet50) is supported")

    if args.inputs:
        x = np.load(args.inputs).astype(np.float32, copy=False)
        if args.out_savedmodel:
            np.save(args.out_savedmodel, batched(run, x).astype(np.float32))
        if args.out_keras:
            model = keras_model(args.model, run.loaded)
            np.save(args.out_keras, batched(lambda b: np.asarray(model(b, training=False)), x).astype(np.float32))

    if args.images:
        with open(args.images) as f:
            paths = [line.rstrip("\n") for line in f if line.strip()]
        x = keras_load(paths, meta["input_size"]).astype(np.float32)
        if args.out_files_inputs:
            np.save(args.out_files_inputs, x)
        if args.out_files:
            np.save(args.out_files, batched(run, x).astype(np.float32))

    if args.crops:
        from PIL import Image, ImageOps

        pngs = []
        with open(args.crops) as f:
            for i, line in enumerate(l for l in f if l.strip()):
                x0, y0, w, h, path = line.rstrip("\n").split(" ", 4)
                x0, y0, w, h = int(x0), int(y0), int(w), int(h)
                with Image.open(path) as im:
                    up = ImageOps.exif_transpose(im)
                    crop = up.crop((x0, y0, x0 + w, y0 + h))
                    if crop.size != (w, h):
                        raise SystemExit(f"keras_reference: crop {line!r} of a {up.size} image")
                    out = os.path.join(args.crops_dir, f"crop{i:03d}.png")
                    crop.save(out)
                    pngs.append(out)
        x = keras_load(pngs, meta["input_size"]).astype(np.float32)
        np.save(args.out_crops, batched(run, x).astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
