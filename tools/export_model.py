#!/usr/bin/env python3
"""Export Keras ResNet50 (include_top=False, pooling="avg") as a TensorFlow SavedModel for pinrec.

    tools/export_model.py --weights imagenet --out models/resnet50
    tools/export_model.py --weights random --seed 0 --out models/resnet50

The SavedModel has one serving signature, "serving_default": "images", a float32 batch of
224x224x3 images already preprocessed in Keras' "caffe" mode (RGB to BGR, ImageNet mean subtracted,
no scaling), in; "embeddings", the 2048-d average-pooled features, out. A second signature,
"features", takes the same "images" and returns, from one forward pass, the same "embeddings" and
"feature_map", the last convolutional block's output (conv5_block3_out: 7x7x2048 at 224x224) whose
mean over its 7x7 cells is the embedding; pinrec pools it over parts of the image into region
vectors that live in the same space as image vectors. The model's weights are
also tracked as the list "keras_weights" (named like Keras' weight paths, e.g. conv1_conv/kernel),
so tools/keras_reference.py can load them back into Keras' own layers. Beside it, pinrec.json records what pinrec's Go Embedder
needs (input size, preprocessing mode, output dimension, signature key and tensor names) and where
the weights come from (weights source, TensorFlow and Keras versions).

--weights imagenet downloads Keras' pretrained weights (about 94 MB, cached in ~/.keras/models).
If they cannot be downloaded (no internet), the script exits with status 3 and exports nothing:
random weights are only ever written when asked for explicitly, and labelled "NOT pretrained".

The export is written to a temporary directory beside --out and renamed into place at the end, so a
directory holding pinrec.json is always a complete export.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INPUT_SIZE = 224
DIM = 2048
MODE = "caffe"
SIGNATURE_KEY = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"
FEATURES_KEY = "features"
FEATURE_MAP_NAME = "feature_map"
FEATURE_MAP_LAYER = "conv5_block3_out"
EXIT_NO_IMAGENET = 3


def build_model(weights, seed):
    """Returns the Keras ResNet50 feature extractor with the requested weights.

    Raises ImagenetUnavailable when the ImageNet weights cannot be fetched."""
    import keras

    if weights == "random":
        # Seeds Python, NumPy and the backend: the same seed gives the same weights.
        keras.utils.set_random_seed(seed)
        keras_weights = None
    else:
        keras_weights = "imagenet"
    try:
        return keras.applications.ResNet50(
            include_top=False,
            weights=keras_weights,
            input_shape=(INPUT_SIZE, INPUT_SIZE, 3),
            pooling="avg",
        )
    except Exception as err:  # get_file raises plain Exceptions (URL/HTTP errors) when offline
        if weights == "imagenet":
            raise ImagenetUnavailable(str(err)) from err
        raise


class ImagenetUnavailable(Exception):
    pass


def save(model, out):
    """Writes model as a SavedModel with two signatures: serving_default, images -> embeddings,
    and features, images -> embeddings and feature_map (one forward pass).

    Keras 3's model.export(format="tf_saved_model") works too, but its checkpoint holds every
    variable twice (188 MB instead of 94 MB) and its signature names are generated
    ("keras_tensor" -> "output_0"); a tf.function over the model gives the same graph."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve(images):
        return {OUTPUT_NAME: model(images, training=False)}

    # The same layers (and variables), with the last conv block's output as a second output.
    import keras

    both = keras.Model(model.inputs, [model.get_layer(FEATURE_MAP_LAYER).output, model.outputs[0]])

    @tf.function(input_signature=[spec])
    def features(images):
        fmap, emb = both(images, training=False)
        return {OUTPUT_NAME: emb, FEATURE_MAP_NAME: fmap}

    root = tf.Module()
    root.serve = serve
    root.features = features
    # The backend variables (not Keras' wrappers of them): each is saved once.
    root.keras_weights = [w.value for w in model.weights]
    tf.saved_model.save(root, out, signatures={SIGNATURE_KEY: serve, FEATURES_KEY: features})


def check_export(saved_dir, model):
    """Reads back the serving signature's input and output names, and checks that the SavedModel
    computes what the Keras model computes on a random batch."""
    import numpy as np
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_dir)
    fn = loaded.signatures[SIGNATURE_KEY]
    _, kwargs = fn.structured_input_signature
    if len(kwargs) != 1 or len(fn.structured_outputs) != 1:
        raise RuntimeError(f"{SIGNATURE_KEY}: want 1 input and 1 output, got {list(kwargs)} -> {list(fn.structured_outputs)}")
    (in_key, in_spec), = kwargs.items()
    (out_key, out_spec), = fn.structured_outputs.items()
    if tuple(in_spec.shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 3) or tuple(out_spec.shape[1:]) != (DIM,):
        raise RuntimeError(f"{SIGNATURE_KEY}: unexpected shapes {in_spec.shape} -> {out_spec.shape}")
    x = np.random.default_rng(0).uniform(-124, 152, (2, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    got = fn(**{in_key: tf.constant(x)})[out_key].numpy()
    want = np.asarray(model(x, training=False))
    rel = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
    if not rel <= 1e-4:
        raise RuntimeError(f"the exported SavedModel disagrees with Keras: max abs diff / max abs = {rel:.3g}")

    # The features signature: the same embeddings, and a feature map whose cell mean is them.
    feat = loaded.signatures[FEATURES_KEY]
    res = feat(**{in_key: tf.constant(x)})
    femb, fmap = res[OUTPUT_NAME].numpy(), res[FEATURE_MAP_NAME].numpy()
    cells = INPUT_SIZE // 32
    if fmap.shape != (2, cells, cells, DIM):
        raise RuntimeError(f"{FEATURES_KEY}: feature map shape {fmap.shape}, want (2, {cells}, {cells}, {DIM})")
    for name, v in (("embeddings", femb), ("feature map mean", fmap.mean(axis=(1, 2)))):
        rel = np.abs(v - want).max() / max(np.abs(want).max(), 1e-30)
        if not rel <= 1e-4:
            raise RuntimeError(f"{FEATURES_KEY}: {name} disagree with Keras: max abs diff / max abs = {rel:.3g}")
    return in_key, out_key, cells


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", choices=["imagenet", "random"], required=True,
                    help="imagenet: Keras' pretrained weights (needs internet once); random: seeded random weights, for tests only")
    ap.add_argument("--seed", type=int, default=0, help="seed of --weights random (default 0)")
    ap.add_argument("--out", required=True, help="output directory (replaced if it exists)")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    out = os.path.abspath(args.out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)

    try:
        model = build_model(args.weights, args.seed)
    except ImagenetUnavailable as err:
        print(
            "export_model: cannot download the Keras ResNet50 ImageNet weights "
            f"(no internet access?): {err}\n"
            "export_model: nothing was exported. On a machine with internet, run it again with --weights imagenet;\n"
            "export_model: for tests only, --weights random --seed N exports seeded random (NOT pretrained) weights.",
            file=sys.stderr,
        )
        return EXIT_NO_IMAGENET

    if args.weights == "imagenet":
        source = "imagenet"
    else:
        source = f"random (seed {args.seed}): NOT pretrained, for testing only"

    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        save(model, tmp)
        in_key, out_key, cells = check_export(tmp, model)
        meta = {
            # The layout version pinrec checks (pinrec.ModelFormatVersion): a pinrec that reads
            # up to version N refuses a folder of version N+1. Bump both on an incompatible change.
            "format": "pinrec-model/1",
            "architecture": "keras.applications.ResNet50(include_top=False, pooling='avg')",
            "input_size": INPUT_SIZE,
            "channels": 3,
            "preprocess": MODE,
            "dim": DIM,
            "weights": source,
            "pretrained": args.weights == "imagenet",
            "seed": args.seed if args.weights == "random" else None,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            "saved_model_tags": ["serve"],
            "signature_key": SIGNATURE_KEY,
            "signature_input": in_key,
            "signature_output": out_key,
            # Region items and crop-free region vectors (pinrec index -regions N) use this one.
            "features_signature_key": FEATURES_KEY,
            "features_output_embeddings": OUTPUT_NAME,
            "features_output_map": FEATURE_MAP_NAME,
            "feature_map_layer": FEATURE_MAP_LAYER,
            "feature_map_shape": [cells, cells, DIM],
        }
        with open(os.path.join(tmp, "pinrec.json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o755)
        # Replace any previous export: move it aside first, so out is either the old or the new one.
        old = None
        if os.path.lexists(out):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(out, os.path.join(old, "x"))
        os.rename(tmp, out)
        tmp = None
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"export_model: wrote {out} (weights: {source}, TensorFlow {tf.__version__}, Keras {keras.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
