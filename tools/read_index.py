#!/usr/bin/env python3
"""Read a pinrec index file (format version 1 or 2) without pinrec: header and metadata with struct,
vectors with numpy.memmap (no copy). The layout is documented at pinrec.FormatVersion (format.go).

    python tools/read_index.py pins.idx                  # summary
    python tools/read_index.py --json --verify pins.idx  # everything as JSON, both checksums checked
    python tools/read_index.py --neighbours 5 pins.idx   # the 5 nearest items to the first one

As a library: header, ids, meta, info, vectors, checks = read_index(path), where vectors is an
(count, dim) float32 numpy.memmap. header holds the kind ("flat" for a plain index) and, for a
file with an extension (version 2 only), its offset and length (extension_offset,
extension_length); the extension's content is the business of the package of its kind.
"""
import argparse
import hashlib
import json
import struct
import sys

import numpy as np

MAGIC = b"PINRECIX"
VERSIONS = (1, 2)
HEADER = struct.Struct("<8sIIQQQQ16s")  # magic, version, dim, count, metaLen, vecOff, fileSize, kind (v2)


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli) in pure Python: fine for the header, slow (~10 MB/s) for vectors."""
    crc ^= 0xFFFFFFFF
    t = _TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class FormatError(Exception):
    pass


def read_index(path, verify=False):
    """Returns (header dict, ids, per-item meta dicts, info dict, vectors memmap, checks done)."""
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
        if len(head) < HEADER.size or head[:8] != MAGIC:
            raise FormatError(f"{path}: not a pinrec index")
        magic, version, dim, count, meta_len, vec_off, file_size, kind = HEADER.unpack(head)
        if version not in VERSIONS:
            raise FormatError(f"{path}: format version {version}, this reader knows {VERSIONS}")
        kind = kind.rstrip(b"\0").decode("ascii") if version == 2 else "flat"
        f.seek(0, 2)
        if f.tell() != file_size:
            raise FormatError(f"{path}: {f.tell()} bytes, header says {file_size}")
        vec_end = vec_off + count * dim * 4
        ext_off, ext_len = vec_end, file_size - 4 - vec_end
        if ext_len > 0:  # version 2: padding to a multiple of 8, then the extension
            ext_off = (vec_end + 7) // 8 * 8
            ext_len = file_size - 4 - ext_off
        if ext_len < 0 or (ext_len > 0 and (version == 1 or kind == "flat")):
            raise FormatError(f"{path}: inconsistent sizes")
        f.seek(HEADER.size)
        meta = f.read(meta_len + 4)
    checks = []
    stored = struct.unpack_from("<I", meta, meta_len)[0]
    if crc32c(meta[:meta_len], crc32c(head)) != stored:
        raise FormatError(f"{path}: header/metadata checksum mismatch")
    checks.append("head_crc")

    off = 0

    def u32():
        nonlocal off
        (v,) = struct.unpack_from("<I", meta, off)
        off += 4
        return v

    def string():
        nonlocal off
        n = u32()
        s = meta[off:off + n].decode("utf-8", errors="surrogateescape")
        off += n
        return s

    def strmap():
        return dict((string(), string()) for _ in range(u32()))

    info = strmap()
    ids, metas = [], []
    for _ in range(count):
        ids.append(string())
        metas.append(strmap())
    if off != meta_len:
        raise FormatError(f"{path}: {meta_len - off} unread metadata bytes")

    vectors = np.memmap(path, dtype="<f4", mode="r", offset=vec_off, shape=(count, dim))
    if verify:
        with open(path, "rb") as f:
            crc = 0
            while chunk := f.read(min(1 << 20, file_size - 4 - f.tell())):
                crc = crc32c(chunk, crc)
            if crc != struct.unpack("<I", f.read(4))[0]:
                raise FormatError(f"{path}: file checksum mismatch")
        checks.append("file_crc")
    header = dict(version=version, kind=kind, dim=dim, count=count, vector_offset=vec_off, file_size=file_size,
                  extension_offset=ext_off, extension_length=ext_len)
    return header, ids, metas, info, vectors, checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--json", action="store_true", help="print everything as one JSON object")
    ap.add_argument("--verify", action="store_true", help="also check the whole-file CRC-32C (slow)")
    ap.add_argument("--neighbours", type=int, default=0, help="nearest items to the first one (Euclidean)")
    a = ap.parse_args()
    try:
        header, ids, metas, info, vectors, checks = read_index(a.path, verify=a.verify)
    except (FormatError, OSError, struct.error) as e:
        print(f"read_index: {e}", file=sys.stderr)
        return 1
    out = dict(header, info=info, ids=ids, meta=metas, checks=checks,
               vectors_sha256=hashlib.sha256(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).hexdigest(),
               first_row=[float(x) for x in vectors[0]] if len(ids) else [])
    if a.neighbours and len(ids):
        v = np.asarray(vectors, dtype=np.float64)
        d = np.sqrt(((v - v[0]) ** 2).sum(axis=1))
        d[0] = np.inf
        order = np.argsort(d, kind="stable")[:a.neighbours]
        out["neighbours"] = [ids[i] for i in order]
        out["distances"] = [float(d[i]) for i in order]
    if a.json:
        json.dump(out, sys.stdout)
        print()
    else:
        print(f"{a.path}: pinrec index v{header['version']} ({header['kind']}), {header['count']} x {header['dim']} float32 "
              f"at offset {header['vector_offset']}, info {info}, checks {checks}")
        for i, n in enumerate(out.get("neighbours", [])):
            print(f"  {n}\t{out['distances'][i]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
