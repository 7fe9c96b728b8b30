#!/usr/bin/env python3
"""What bfloat16 arithmetic does to ResNet50 embeddings, on a CPU where the fast mode cannot.

    .venv/bin/python tools/bf16_fidelity.py [--model models/resnet50] IMAGE...

pinrec's fast mode (WithFastMode, `pinrec index -fast`) asks TensorFlow's grappler for oneDNN
bfloat16 auto mixed precision. TensorFlow applies that rewrite only on CPUs with native bfloat16
(AVX-512 BF16, AMX); elsewhere it leaves the graph in float32 and the fast mode's vectors equal
float32 ones bit for bit (bench/embed/run.sh prints fast_mode_max_abs_diff=0 there). To know
how far bfloat16 moves the vectors anyway, this script runs Keras' ResNet50 twice on the same
inputs (keras.utils.load_img, preprocess_input) with the SavedModel's weights: under the float32
policy, and under Keras' "mixed_bfloat16" policy (convolutions and matrix products in bfloat16,
variables in float32; TensorFlow's Eigen kernels emulate bfloat16 where the CPU lacks it, slowly).
That is the same kind of rounding as the oneDNN rewrite, not its exact kernels.

Prints bf16_worst_cosine=, bf16_discriminative_ratio= (the largest, over images, of
||bf16 - fp32|| over the distance from fp32 to the nearest other image's fp32 vector; identical
pictures are not each other's neighbours) and bf16_median_ratio=.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/resnet50")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import keras_reference as kr

    x = kr.keras_load(args.images, 224)
    f32 = np.asarray(kr.keras_model(args.model).predict(x, batch_size=8, verbose=0), np.float64)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    f16 = np.asarray(kr.keras_model(args.model).predict(x, batch_size=8, verbose=0), np.float64)

    cos = (f32 * f16).sum(1) / np.linalg.norm(f32, axis=1) / np.linalg.norm(f16, axis=1)
    d = np.linalg.norm(f32[:, None] - f32[None], axis=2)
    d[d == 0] = np.inf  # the image itself, and identical pictures
    ratio = np.linalg.norm(f32 - f16, axis=1) / d.min(1)
    ratio = ratio[np.isfinite(ratio)]
    print(f"bf16_images={len(args.images)}")
    print(f"bf16_worst_cosine={cos.min():.7f}")
    print(f"bf16_discriminative_ratio={ratio.max():.5f}")
    print(f"bf16_median_ratio={np.median(ratio):.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
