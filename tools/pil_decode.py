#!/usr/bin/env python3
"""Pillow's decoded JPEG pixels, the oracle of pinrec's JPEG tests.

    pil_decode.py make DIR          writes JPEG variants made with Pillow into DIR (deterministic)
    pil_decode.py dump DIR FILE...  for FILE number i writes DIR/i.raw and prints one JSON line

dump: the raw bytes of Image.open(FILE) after load(), in Pillow's own mode ("L", "RGB" or
"CMYK", rows top to bottom, no EXIF orientation applied), and the JSON line
{"i": i, "mode": ..., "width": ..., "height": ..., "rgb": ..., "rgb_width": ..., "rgb_height": ...}
where DIR/i.rgb.raw ("rgb") holds ImageOps.exif_transpose(img).convert("RGB"): what
keras.utils.load_img gives, turned upright by the EXIF orientation as pinrec's DecodeFile does.

make: the variants a JPEG decoder must get right: every chroma subsampling Pillow writes
(4:4:4, 4:2:2, 4:2:0), odd sizes (partial MCUs, edge replication of chroma), progressive and
optimized Huffman tables, restart markers, greyscale, CMYK (Adobe, inverted), low and high
quality, and a large 640x480 photo-like picture.
"""

import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps


def picture(w, h, seed):
    """A smooth colour field with shapes, sharp edges and a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.3)
        base[..., c] = 128 + 110 * np.sin(fx * xx + ph) * np.cos(fy * yy - ph)
    base += rng.normal(0, 10, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(4, max(5, w // 2))), y0 + int(rng.integers(4, max(5, h // 2)))
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=col)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def make(out):
    os.makedirs(out, exist_ok=True)
    odd = picture(97, 61, 1)
    big = picture(640, 480, 2)
    variants = {
        "s444-97x61.jpg": (odd, dict(quality=90, subsampling=0)),
        "s422-97x61.jpg": (odd, dict(quality=90, subsampling=1)),
        "s420-97x61.jpg": (odd, dict(quality=90, subsampling=2)),
        "s420-q30-97x61.jpg": (odd, dict(quality=30, subsampling=2)),
        "s420-q100-97x61.jpg": (odd, dict(quality=100, subsampling=2)),
        "progressive-s420-97x61.jpg": (odd, dict(quality=85, subsampling=2, progressive=True)),
        "progressive-s444-97x61.jpg": (odd, dict(quality=85, subsampling=0, progressive=True)),
        "optimize-s422-97x61.jpg": (odd, dict(quality=85, subsampling=1, optimize=True)),
        "restart-s420-97x61.jpg": (odd, dict(quality=85, subsampling=2, restart_marker_blocks=3)),
        "grey-97x61.jpg": (odd.convert("L"), dict(quality=85)),
        "grey-progressive-97x61.jpg": (odd.convert("L"), dict(quality=85, progressive=True)),
        "cmyk-97x61.jpg": (odd.convert("CMYK"), dict(quality=90)),
        "tiny-1x1.jpg": (picture(1, 1, 3), dict(quality=90)),
        "thin-2x33.jpg": (picture(2, 33, 4), dict(quality=90, subsampling=2)),
        "thin-33x3.jpg": (picture(33, 3, 5), dict(quality=90, subsampling=1)),
        "photo-s420-640x480.jpg": (big, dict(quality=90, subsampling=2)),
        "photo-progressive-640x480.jpg": (big, dict(quality=90, subsampling=2, progressive=True)),
    }
    for name, (img, kw) in variants.items():
        img.save(os.path.join(out, name), "JPEG", **kw)


def dump(out, files):
    os.makedirs(out, exist_ok=True)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            img.load()
            raw = img.tobytes()
            up = ImageOps.exif_transpose(img).convert("RGB")
            rgb = up.tobytes()
            info = {"i": i, "mode": img.mode, "width": img.width, "height": img.height,
                    "rgb": f"{i}.rgb.raw", "rgb_width": up.width, "rgb_height": up.height}
        with open(os.path.join(out, f"{i}.raw"), "wb") as f:
            f.write(raw)
        with open(os.path.join(out, f"{i}.rgb.raw"), "wb") as f:
            f.write(rgb)
        print(json.dumps(info), flush=True)


def main(argv):
    if len(argv) >= 2 and argv[0] == "make":
        make(argv[1])
    elif len(argv) >= 3 and argv[0] == "dump":
        dump(argv[1], argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
