"""FAISS side of bench/index/run.sh: IndexFlatL2 on the benchmark's data, best of N.

  bench_index_faiss.py gen  --dir D --n N --d D --nq Q --seed S
      writes D/base.f32 (N x d) and D/queries.f32 (Q x d): float32, row-major, standard normal.
  bench_index_faiss.py run  --dir D --n N --d D --nq Q --k K --reps R --out FILE
      times one query (the first) and the batch of Q, best of R, and writes JSON to FILE:
      {"threads": T, "single_s": ..., "batch_s": ..., "add_s": ..., "single_ids": [...],
       "batch_ids": [[...], ...]}.

Threads come from the environment (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS), which the shell
script sets before Python starts, so that FAISS's OpenMP loops and the BLAS it calls for
batches agree; faiss.omp_set_num_threads is set to the same value for good measure.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def gen(args):
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, "base.f32"), "wb") as f:
        step = 10000
        for lo in range(0, args.n, step):
            rng.standard_normal((min(step, args.n - lo), args.d), dtype=np.float32).tofile(f)
    rng.standard_normal((args.nq, args.d), dtype=np.float32).tofile(os.path.join(args.dir, "queries.f32"))


def best(fn, reps):
    """Runs fn reps times; returns the best wall time, the best process CPU time (all threads,
    which a loaded machine inflates less than the wall time) and fn's last result."""
    t = c = float("inf")
    out = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        t = min(t, time.perf_counter() - t0)
        c = min(c, time.process_time() - c0)
    return t, c, out


def blas_core():
    """The kernels OpenBLAS (bundled with faiss-cpu) chose, e.g. Haswell (AVX2) or SkylakeX
    (AVX-512); OPENBLAS_CORETYPE overrides its choice."""
    import ctypes
    import glob

    import faiss

    libs = glob.glob(os.path.join(os.path.dirname(faiss.__file__), "..", "faiss_cpu.libs", "libopenblas*"))
    try:
        lib = ctypes.CDLL(libs[0])
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (IndexError, OSError, AttributeError):
        return "unknown"


def run(args):
    import faiss

    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count()
    faiss.omp_set_num_threads(threads)
    xb = np.fromfile(os.path.join(args.dir, "base.f32"), dtype=np.float32).reshape(args.n, args.d)
    xq = np.fromfile(os.path.join(args.dir, "queries.f32"), dtype=np.float32).reshape(args.nq, args.d)
    index = faiss.IndexFlatL2(args.d)
    t0 = time.perf_counter()
    index.add(xb)
    add_s = time.perf_counter() - t0
    del xb
    single_s, single_cpu_s, (_, single_i) = best(lambda: index.search(xq[:1], args.k), args.reps)
    batch_s, batch_cpu_s, (_, batch_i) = best(lambda: index.search(xq, args.k), args.reps)
    res = {
        "threads": threads,
        "faiss_version": faiss.__version__,
        "blas_core": blas_core(),
        "add_s": add_s,
        "single_s": single_s,
        "batch_s": batch_s,
        "single_cpu_s": single_cpu_s,
        "batch_cpu_s": batch_cpu_s,
        "single_ids": single_i[0].tolist(),
        "batch_ids": batch_i.tolist(),
    }
    with open(args.out, "w") as f:
        json.dump(res, f)
    print(f"faiss threads={threads} single={single_s*1e3:.1f}ms batch={batch_s*1e3:.1f}ms", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["gen", "run"])
    p.add_argument("--dir", required=True)
    p.add_argument("--n", type=int, default=100000)
    p.add_argument("--d", type=int, default=2048)
    p.add_argument("--nq", type=int, default=100)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out")
    args = p.parse_args()
    gen(args) if args.cmd == "gen" else run(args)


if __name__ == "__main__":
    main()
