#!/usr/bin/env python3
"""Regenerate pinrec's test images under testdata/images/ (deterministic).

Run from the repository root:  .venv/bin/python tools/make_testdata.py

Layout (testdata/images/README.md lists every file and its expected outcome):
  ok/    plain RGB photos-like pictures, no alpha, no EXIF: every file decodes
         and is what the Keras agreement tests embed.
  edge/  valid but unusual files (CMYK, 16-bit, paletted+alpha, GIF, WebP, BMP,
         TIFF, 1x1, EXIF orientations, non-ASCII name): every file decodes.
  bad/   files that must be rejected (empty, truncated, not an image, headers
         declaring 40000x40000 pixels): no file decodes.

Only Pillow and numpy are used. The pictures are synthetic (gradients, shapes,
noise) so the repository stays small: a few KB per file.
"""

import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "images")


def out(*parts):
    p = os.path.join(ROOT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def vgradient(w, h, top, bottom):
    t = np.linspace(0.0, 1.0, h, dtype=np.float64)[:, None, None]
    a = np.array(top, np.float64)[None, None, :]
    b = np.array(bottom, np.float64)[None, None, :]
    return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).copy()


def finish(arr, rng, noise=4.0):
    arr = arr + rng.normal(0, noise, arr.shape)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")


def landscape(w, h, seed, noise=4.0):
    """Sunset sky, sun, two mountain ranges, a lake and some trees."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(vgradient(w, h, (40, 70, 150), (250, 170, 90)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    sx, sy, r = int(w * 0.7), int(h * 0.35), max(4, h // 10)
    d.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 230, 150))
    for k, (col, base) in enumerate([((90, 80, 120), 0.55), ((50, 70, 60), 0.68)]):
        pts = [(0, h)]
        for x in range(0, w + 20, 20):
            pts.append((x, int(h * base + rng.normal(0, h * 0.05))))
        pts.append((w, h))
        d.polygon(pts, fill=col)
    d.rectangle([0, int(h * 0.8), w, h], fill=(60, 100, 140))
    for _ in range(6):
        x = int(rng.uniform(0, w))
        y = int(rng.uniform(h * 0.65, h * 0.8))
        s = int(rng.uniform(h * 0.05, h * 0.12))
        d.polygon([(x, y - 2 * s), (x - s // 2, y), (x + s // 2, y)], fill=(20, 60, 30))
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    return finish(np.asarray(img, np.float64), rng, noise)


def still_life(w, h, seed, noise=3.0):
    """A table with shaded fruit in front of a wall."""
    rng = np.random.default_rng(seed)
    arr = vgradient(w, h, (200, 190, 170), (150, 140, 120))
    yy, xx = np.mgrid[0:h, 0:w]
    table = yy > h * 0.6
    arr[table] = (np.array([120, 80, 50]) * (0.8 + 0.2 * np.sin(xx[table] / 7.0))[:, None])
    for _ in range(5):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.5, 0.7) * h
        r = rng.uniform(0.06, 0.12) * min(w, h)
        col = rng.choice([(200, 30, 30), (240, 180, 20), (60, 150, 40), (230, 110, 20)])
        dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        m = dist < r
        light = np.clip(1.1 - np.sqrt((xx - cx + r / 3) ** 2 + (yy - cy + r / 3) ** 2) / (1.6 * r), 0.3, 1.2)
        arr[m] = np.array(col)[None, :] * light[m][:, None]
    return finish(arr, rng, noise)


def city(w, h, seed, noise=2.0):
    """Buildings with lit windows under a night sky."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(vgradient(w, h, (10, 15, 40), (60, 40, 80)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    x = 0
    while x < w:
        bw = int(rng.uniform(0.08, 0.2) * w)
        top = int(rng.uniform(0.2, 0.6) * h)
        shade = int(rng.uniform(30, 70))
        d.rectangle([x, top, x + bw, h], fill=(shade, shade, shade + 10))
        for wy in range(top + 6, h - 6, 12):
            for wx in range(x + 4, x + bw - 6, 9):
                if rng.random() < 0.5:
                    d.rectangle([wx, wy, wx + 4, wy + 6], fill=(250, 220, 120))
        x += bw + int(rng.uniform(1, 6))
    return finish(np.asarray(img, np.float64), rng, noise)


def fabric(w, h, seed, noise=5.0):
    """A striped, folded piece of cloth (a nod to Fashion-MNIST)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    fold = 0.75 + 0.25 * np.sin(xx / w * 9 + np.sin(yy / h * 5))
    stripe = (np.sin((xx + yy * 0.3) / 6.0) > 0).astype(np.float64)
    base = np.array([30, 60, 160], np.float64) * (1 - stripe[..., None]) + np.array([230, 230, 210]) * stripe[..., None]
    arr = base * fold[..., None]
    return finish(arr, rng, noise)


def flowers(w, h, seed, noise=3.0):
    """Petals around yellow hearts on grass."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(vgradient(w, h, (70, 140, 60), (30, 90, 30)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(7):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.1) * min(w, h)
        col = tuple(int(c) for c in rng.choice([(230, 60, 120), (250, 250, 250), (150, 80, 200)]))
        for k in range(8):
            a = k * np.pi / 4
            px, py = cx + np.cos(a) * r, cy + np.sin(a) * r
            d.ellipse([px - r / 2, py - r / 2, px + r / 2, py + r / 2], fill=col)
        d.ellipse([cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2], fill=(250, 210, 40))
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    return finish(np.asarray(img, np.float64), rng, noise)


def png_raw(path, w, h, bit_depth, color_type, raw_rows, extra_chunks=()):
    """Write a PNG by hand (Pillow cannot write 16-bit RGB)."""

    def chunk(typ, data):
        return struct.pack(">I", len(data)) + typ + data + struct.pack(">I", zlib.crc32(typ + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    body = b"".join(b"\x00" + r for r in raw_rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for typ, payload in extra_chunks:
        data += chunk(typ, payload)
    data += chunk(b"IDAT", zlib.compress(body, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)
    return data


def orientation_marker():
    """The upright picture of the EXIF tests: 64x48, white, with a red block at
    the top-left corner, green at top-right and blue at bottom-left (16x16 each)."""
    a = np.full((48, 64, 3), 255, np.uint8)
    a[0:16, 0:16] = (255, 0, 0)
    a[0:16, 48:64] = (0, 255, 0)
    a[32:48, 0:16] = (0, 0, 255)
    return Image.fromarray(a, "RGB")


# Stored = inverse of the transform that EXIF orientation o asks a viewer to
# apply (ImageOps.exif_transpose applies the forward one).
EXIF_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # viewer rotates 90 clockwise (ROTATE_270)
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # viewer rotates 90 counterclockwise
}


def exif_bytes(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def make_ok():
    # PNGs get no noise: noise does not compress and the files must stay small.
    for name, fn, (w, h), noise, fmt, kw in [
        ("landscape-320x240.jpg", landscape, (320, 240), 4.0, "JPEG", dict(quality=88)),
        ("still-life-500x500.jpg", still_life, (500, 500), 3.0, "JPEG", dict(quality=80)),
        ("city-180x300.jpg", city, (180, 300), 2.0, "JPEG", dict(quality=85)),
        ("fabric-224x224.jpg", fabric, (224, 224), 5.0, "JPEG", dict(quality=85)),
        ("flowers-256x192.png", flowers, (256, 192), 0.0, "PNG", dict(optimize=True)),
        ("landscape-160x120.png", landscape, (160, 120), 0.0, "PNG", dict(optimize=True)),
        ("city-90x150.png", city, (90, 150), 0.0, "PNG", dict(optimize=True)),
    ]:
        fn(w, h, seed=len(name), noise=noise).save(out("ok", name), fmt, **kw)


def make_edge():
    base = still_life(120, 90, seed=7, noise=0.0)
    # JPEG variants.
    base.save(out("edge", "progressive.jpg"), "JPEG", quality=85, progressive=True)
    base.convert("CMYK").save(out("edge", "cmyk.jpg"), "JPEG", quality=90)  # Adobe APP14, inverted (Photoshop style)
    base.convert("L").save(out("edge", "grey.jpg"), "JPEG", quality=85)
    base.save(out("edge", "robe d'été ÿ.jpg"), "JPEG", quality=85)
    base.save(out("edge", "subsampling-444.jpg"), "JPEG", quality=90, subsampling=0)
    base.save(out("edge", "subsampling-422.jpg"), "JPEG", quality=90, subsampling=1)
    # PNG variants.
    base.convert("L").save(out("edge", "grey.png"), "PNG", optimize=True)
    a = np.asarray(base, np.uint16) * 257
    png_raw(out("edge", "rgb16.png"), 120, 90, 16, 2, [a[y].astype(">u2").tobytes() for y in range(90)])
    g16 = (np.asarray(base.convert("L"), np.uint16) * 257).astype(">u2")
    png_raw(out("edge", "grey16.png"), 120, 90, 16, 0, [g16[y].tobytes() for y in range(90)])
    rgba = base.convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, 120).astype(np.uint8), (90, 1))
    rgba.putalpha(Image.fromarray(alpha, "L"))
    rgba.save(out("edge", "rgba.png"), "PNG", optimize=True)
    la = base.convert("L").convert("LA")
    la.putalpha(Image.fromarray(alpha[:, ::-1].copy(), "L"))
    la.save(out("edge", "grey-alpha.png"), "PNG", optimize=True)
    pal = base.quantize(colors=16)
    pal.info["transparency"] = 0  # palette index 0 is fully transparent
    pal.save(out("edge", "palette-alpha.png"), "PNG", transparency=0)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(out("edge", "one-pixel.png"), "PNG")
    # Other formats.
    frames = [landscape(80, 60, seed=s, noise=0.0).quantize(colors=32) for s in (1, 2, 3)]
    frames[0].save(out("edge", "animated.gif"), "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    base.save(out("edge", "lossy.webp"), "WEBP", quality=80)
    rgba.save(out("edge", "lossless-alpha.webp"), "WEBP", lossless=True)
    rgba.save(out("edge", "lossy-alpha.webp"), "WEBP", quality=80)
    wframes = [landscape(80, 60, seed=s, noise=0.0) for s in (4, 5, 6)]
    wframes[0].save(out("edge", "animated.webp"), "WEBP", save_all=True, append_images=wframes[1:], duration=100, loop=0, quality=80)
    base.resize((48, 36), Image.BILINEAR).save(out("edge", "rgb24.bmp"), "BMP")
    base.save(out("edge", "lzw.tiff"), "TIFF", compression="tiff_lzw")
    # EXIF orientation 1..8 in JPEG, and one each in PNG (eXIf), WebP and TIFF.
    up = orientation_marker()
    for o, t in EXIF_STORE.items():
        stored = up if t is None else up.transpose(t)
        stored.save(out("edge", f"exif-orientation-{o}.jpg"), "JPEG", quality=95, subsampling=0, exif=exif_bytes(o))
    up.transpose(EXIF_STORE[6]).save(out("edge", "exif-orientation-6.png"), "PNG", exif=exif_bytes(6))
    up.transpose(EXIF_STORE[8]).save(out("edge", "exif-orientation-8.webp"), "WEBP", lossless=True, exif=exif_bytes(8))
    up.transpose(EXIF_STORE[3]).save(out("edge", "exif-orientation-3.tiff"), "TIFF", compression="tiff_adobe_deflate", tiffinfo={0x0112: 3})


def make_bad():
    open(out("bad", "empty.jpg"), "wb").close()
    buf = io.BytesIO()
    landscape(160, 120, seed=3).save(buf, "JPEG", quality=85)
    jpg = buf.getvalue()
    with open(out("bad", "truncated.jpg"), "wb") as f:
        f.write(jpg[: len(jpg) // 2])
    buf = io.BytesIO()
    landscape(64, 48, seed=3).save(buf, "PNG")
    with open(out("bad", "truncated.png"), "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    with open(out("bad", "not-an-image.png"), "w") as f:
        f.write("This is a text file with a .png name, not an image.\n")
    # 40000x40000 declared in the header, a few hundred bytes on disk: a
    # decoder that trusts the header would allocate gigabytes.
    small = np.zeros((8, 8, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).save(buf, "JPEG", quality=50)
    jpg = bytearray(buf.getvalue())
    i = 2
    while True:  # find SOF0 and patch its height and width
        assert jpg[i] == 0xFF
        marker, n = jpg[i + 1], struct.unpack(">H", jpg[i + 2 : i + 4])[0]
        if marker == 0xC0:
            jpg[i + 5 : i + 9] = struct.pack(">HH", 40000, 40000)
            break
        i += 2 + n
    with open(out("bad", "huge-40000x40000.jpg"), "wb") as f:
        f.write(bytes(jpg))
    rows = [bytes(3 * 8)] * 8  # 8x8 worth of data under a 40000x40000 IHDR
    png = bytearray(png_raw(out("bad", "huge-40000x40000.png"), 8, 8, 8, 2, rows))
    png[16:24] = struct.pack(">II", 40000, 40000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])) & 0xFFFFFFFF)
    with open(out("bad", "huge-40000x40000.png"), "wb") as f:
        f.write(bytes(png))


def main():
    make_ok()
    make_edge()
    make_bad()
    total = 0
    for d, _, files in os.walk(ROOT):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    print(f"wrote {ROOT}: {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
