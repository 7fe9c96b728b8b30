"""hnswlib and usearch side of bench/ann/run.sh, on the benchmark's data.

  ann_peers.py --dir D --ef 16,32,... --nlat 1000 --reps 3 --threads 2

hnswlib 0.8.0 (L2, M=16 and M=32, ef_construction 200, its defaults otherwise) and, when the
module imports, usearch (f16 vectors, M=16, expansion_add 128: the vectors are non-negative and
unnormalised, which its i8 does not suit). Each is built with --threads threads (timed), then
swept over efSearch: recall@10 of every query against D/gt.json, then the latency of one query
at a time on 1 thread over the first --nlat queries and queries/s of single queries on 2
threads, best of --reps passes over the sweep (ann_faiss.timed_passes, as for FAISS and pinrec). Memory:
resident anonymous bytes after building, minus before. Writes D/peers.json in faiss.json's form.
"""

import argparse
import json
import os
import time

import numpy as np

from ann_faiss import rss_anon, timed_passes


def sweep(name, search, set_ef, queries, gt, efs, lat_q, threads, reps):
    nq = len(queries)
    pts = []
    for ef in efs:
        set_ef(ef)
        ids = search(queries, threads)
        hit = sum(len(set(int(x) for x in ids[i]) & set(gt[i])) for i in range(nq))
        pts.append({"ef": ef, "recall": hit / (10 * nq), "latency_s": float("inf"), "qps2": 0.0})

    def time_point(p):
        set_ef(p["ef"])
        t0 = time.perf_counter()
        for q in lat_q:
            search(q[None, :], 1)
        p["latency_s"] = min(p["latency_s"], (time.perf_counter() - t0) / len(lat_q))
        t0 = time.perf_counter()
        search(lat_q, 2)
        p["qps2"] = max(p["qps2"], len(lat_q) / (time.perf_counter() - t0))

    timed_passes(pts, reps, time_point)
    for p in pts:
        print(f"  {name} ef {p['ef']:4d}: recall@10 {p['recall']:.4f} ({nq} queries), {p['latency_s'] * 1e3:.3f} ms/query "
              f"(1 thread, best of {reps} passes over {len(lat_q)} queries), {p['qps2']:.0f} QPS (2 threads)", flush=True)
    return pts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ef", default="16,32,48,64,96,128,192,256")
    ap.add_argument("--nlat", type=int, default=200, help="queries timed (the first ones)")
    ap.add_argument("--reps", type=int, default=3, help="timed passes over the sweep; each point keeps its best")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    n, d, nq = meta["n"], meta["d"], meta["nq"]
    base = np.memmap(os.path.join(a.dir, "base.f32"), dtype="<f4", mode="r", shape=(n, d))
    queries = np.fromfile(os.path.join(a.dir, "queries.f32"), dtype="<f4").reshape(nq, d)
    gt = json.load(open(os.path.join(a.dir, "gt.json")))["gt"]
    efs = [int(x) for x in a.ef.split(",")]
    lat_q = queries[: min(a.nlat, nq)]
    out = {"indexes": []}
    import hnswlib

    for m in (16, 32):
        name = f"hnswlib M={m}"
        before = rss_anon()
        index = hnswlib.Index(space="l2", dim=d)
        t0 = time.perf_counter()
        index.init_index(max_elements=n, M=m, ef_construction=200, random_seed=1)
        step = 20000
        for lo in range(0, n, step):
            chunk = np.ascontiguousarray(base[lo : lo + step])
            index.add_items(chunk, np.arange(lo, lo + len(chunk)), num_threads=a.threads)
            print(f"  {name}: {min(n, lo + step)}/{n}, {time.perf_counter() - t0:.0f} s", flush=True)
        build_s = time.perf_counter() - t0
        mem = rss_anon() - before
        pts = sweep(name, lambda q, t: index.knn_query(q, k=10, num_threads=t)[0], index.set_ef, queries, gt, efs, lat_q, a.threads, a.reps)
        out["indexes"].append({"name": name, "build_s": build_s, "rss_anon": mem, "points": pts})
        del index

    try:
        import usearch
        from usearch.index import Index
    except ImportError as e:
        print(f"  usearch left out: {e}", flush=True)
    else:
        name = "usearch f16 M=16"
        before = rss_anon()
        index = Index(ndim=d, metric="l2sq", dtype="f16", connectivity=16, expansion_add=128)
        t0 = time.perf_counter()
        step = 20000
        for lo in range(0, n, step):
            chunk = np.ascontiguousarray(base[lo : lo + step])
            index.add(np.arange(lo, lo + len(chunk)), chunk, threads=a.threads)
            print(f"  {name}: {min(n, lo + step)}/{n}, {time.perf_counter() - t0:.0f} s", flush=True)
        build_s = time.perf_counter() - t0
        mem = rss_anon() - before

        def set_ef(ef):
            index.expansion_search = ef

        def search(q, t):
            m = index.search(q, 10, threads=t)
            return np.atleast_2d(m.keys)

        pts = sweep(name, search, set_ef, queries, gt, efs, lat_q, a.threads, a.reps)
        out["indexes"].append({"name": name + f" ({usearch.__version__})", "build_s": build_s, "rss_anon": mem, "points": pts})
        del index
    with open(os.path.join(a.dir, "peers.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
