#!/usr/bin/env python3
"""Reference preprocessing for pinrec's Go tests: Pillow + Keras preprocess_input.

Usage:
  .venv/bin/python tools/pil_reference.py --sizes 224,32 --out DIR FILE...

For every FILE (index i), every size s and every mode m in caffe, tf, torch it
writes DIR/{i}_{s}_{m}.f32: the little-endian float32 NHWC array of shape
(s, s, 3) that Keras would feed a model, computed as

  img = Image.open(FILE)                       # first frame for GIF
  img = ImageOps.exif_transpose(img)           # pinrec applies EXIF orientation
  img = <RGB, alpha composited on white>       # pinrec's rule, see rgb_on_white
  img = img.resize((s, s), Image.BILINEAR)     # Keras load_img(target_size=(s, s),
                                               #   interpolation="bilinear")
  x = preprocess_input(np.asarray(img, np.float32)[None], mode=m)

and DIR/{i}_{s}_raw.f32, the resized RGB pixels in [0, 255] before
preprocess_input. Two steps differ from a bare Keras load_img on purpose and are
documented in preprocess.go: EXIF orientation is applied, and alpha is
composited on white (Pillow's convert("RGB") drops it, showing whatever colour
transparent pixels hold). 16-bit greyscale keeps its high byte (Pillow's
convert("RGB") would clip it to 255).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from PIL import Image, ImageOps


def has_alpha(img):
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return img.mode == "P" and "transparency" in img.info


def rgb_on_white(img):
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img).astype(np.uint32) >> 8
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L").convert("RGB")
    if has_alpha(img):
        a = np.asarray(img.convert("RGBA")).astype(np.uint32)
        alpha = a[..., 3:4]
        rgb = (a[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
        return Image.fromarray(rgb.astype(np.uint8), "RGB")
    return img.convert("RGB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="224")
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    from keras.applications import imagenet_utils

    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(args.out, exist_ok=True)
    for i, path in enumerate(args.files):
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img = rgb_on_white(img)
        for s in sizes:
            r = img if img.size == (s, s) else img.resize((s, s), Image.BILINEAR)
            x = np.asarray(r, np.float32)[None]
            x.astype("<f4").tofile(os.path.join(args.out, f"{i}_{s}_raw.f32"))
            for mode in ("caffe", "tf", "torch"):
                y = imagenet_utils.preprocess_input(x.copy(), mode=mode)
                np.asarray(y, "<f4").tofile(os.path.join(args.out, f"{i}_{s}_{mode}.f32"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
