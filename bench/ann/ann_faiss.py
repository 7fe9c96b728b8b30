"""FAISS side of bench/ann/run.sh: IndexHNSWFlat(d, 32) and HNSW32,SQ8 on the benchmark's data.

  ann_faiss.py --dir D --ef 16,32,... --nlat 1000 --reps 3 --threads 2

reads D/meta.json, D/base.f32 (memory-mapped), D/queries.f32 and D/gt.json (the exact top-10 of
every query, from pinrec's exact index), builds each index with --threads threads (timed), and
sweeps efSearch: recall@10 of every query against gt.json, then the latency of one query at a
time on 1 thread over the first --nlat queries and queries/s of single queries on 2 threads
(faiss searches a batch in parallel over its queries; the batch is the --nlat queries), best of
--reps passes over the sweep (see timed_passes). The indexes are built one
after the other, each freed before the next. Writes D/faiss.json.

Memory: resident anonymous bytes (RssAnon) after building, minus before: the index's own copy
of the vectors or codes and its graph, not the page cache of the mapped input.
"""

import argparse
import json
import os
import time

import faiss
import numpy as np


def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return -1


def timed_passes(pts, reps, time_point):
    """Times every sweep point once per pass, reps passes, odd passes in rising order of
    efSearch and even ones falling; time_point keeps each point's best, so that a slow spell
    of the machine costs one pass of some points, not every pass of one point (benchann
    search times pinrec the same way)."""
    for r in range(reps):
        for p in pts if r % 2 == 0 else pts[::-1]:
            time_point(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ef", default="16,32,48,64,96,128,192,256")
    ap.add_argument("--nlat", type=int, default=200, help="queries timed (the first ones)")
    ap.add_argument("--reps", type=int, default=3, help="timed passes over the sweep; each point keeps its best")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--efc", type=int, default=40, help="efConstruction (FAISS's default is 40)")
    ap.add_argument("--indexes", default="HNSW32,Flat;HNSW32,SQ8",
                    help="FAISS factory strings to build, separated by ';'")
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    n, d, nq = meta["n"], meta["d"], meta["nq"]
    base = np.memmap(os.path.join(a.dir, "base.f32"), dtype="<f4", mode="r", shape=(n, d))
    queries = np.fromfile(os.path.join(a.dir, "queries.f32"), dtype="<f4").reshape(nq, d)
    gt = json.load(open(os.path.join(a.dir, "gt.json")))["gt"]
    efs = [int(x) for x in a.ef.split(",")]
    lat_q = queries[: min(a.nlat, nq)]
    out = {"faiss_version": faiss.__version__, "indexes": []}
    for name in a.indexes.split(";"):
        faiss.omp_set_num_threads(a.threads)
        before = rss_anon()
        index = faiss.index_factory(d, name)
        index.hnsw.efConstruction = a.efc
        t0 = time.perf_counter()
        if not index.is_trained:
            sample = np.ascontiguousarray(base[:: max(1, n // 20000)][:20000])
            index.train(sample)
            del sample
        step = 20000
        for lo in range(0, n, step):
            index.add(np.ascontiguousarray(base[lo : lo + step]))
            print(f"  faiss {name}: {min(n, lo + step)}/{n}, {time.perf_counter() - t0:.0f} s", flush=True)
        build_s = time.perf_counter() - t0
        mem = rss_anon() - before
        pts = []
        faiss.omp_set_num_threads(a.threads)
        for ef in efs:
            index.hnsw.efSearch = ef
            _, ids = index.search(queries, 10)
            hit = sum(len(set(ids[i].tolist()) & set(gt[i])) for i in range(nq))
            pts.append({"ef": ef, "recall": hit / (10 * nq), "latency_s": float("inf"), "qps2": 0.0})

        def time_point(p):
            index.hnsw.efSearch = p["ef"]
            faiss.omp_set_num_threads(1)
            t0 = time.perf_counter()
            for q in lat_q:
                index.search(q[None, :], 10)
            p["latency_s"] = min(p["latency_s"], (time.perf_counter() - t0) / len(lat_q))
            faiss.omp_set_num_threads(2)
            t0 = time.perf_counter()
            index.search(lat_q, 10)
            p["qps2"] = max(p["qps2"], len(lat_q) / (time.perf_counter() - t0))

        timed_passes(pts, a.reps, time_point)
        for p in pts:
            print(f"  faiss {name} ef {p['ef']:4d}: recall@10 {p['recall']:.4f} ({nq} queries), {p['latency_s'] * 1e3:.3f} ms/query "
                  f"(1 thread, best of {a.reps} passes over {len(lat_q)} queries), {p['qps2']:.0f} QPS (2 threads)", flush=True)
        out["indexes"].append({"name": name, "build_s": build_s, "rss_anon": mem, "points": pts})
        del index
    with open(os.path.join(a.dir, "faiss.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
