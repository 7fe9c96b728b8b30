"""FAISS side of bench/ann/run.sh: IndexHNSWFlat(d, 32) and HNSW32,SQ8 on the benchmark's data.

  bench_ann_faiss.py --dir D --ef 16,32,... --nlat 200 --threads 2

reads D/meta.json, D/base.f32 (memory-mapped), D/queries.f32 and D/gt.json (the exact top-10 of
every query, from pinrec's exact index), builds each index with --threads threads (timed), and
sweeps efSearch: recall@10 against gt.json, the latency of one query at a time on 1 thread
(best of 3 over --nlat queries), and queries/s of single queries on 2 threads (faiss searches
a batch in parallel over its queries; the batch is the --nlat queries). The indexes are built one
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ef", default="16,32,48,64,96,128,192,256")
    ap.add_argument("--nlat", type=int, default=200)
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
        for ef in efs:
            index.hnsw.efSearch = ef
            faiss.omp_set_num_threads(a.threads)
            _, ids = index.search(queries, 10)
            hit = sum(len(set(ids[i].tolist()) & set(gt[i])) for i in range(nq))
            recall = hit / (10 * nq)
            faiss.omp_set_num_threads(1)
            lat = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                for q in lat_q:
                    index.search(q[None, :], 10)
                lat = min(lat, (time.perf_counter() - t0) / len(lat_q))
            faiss.omp_set_num_threads(2)
            qps = 0.0
            for _ in range(3):
                t0 = time.perf_counter()
                index.search(lat_q, 10)
                qps = max(qps, len(lat_q) / (time.perf_counter() - t0))
            pts.append({"ef": ef, "recall": recall, "latency_s": lat, "qps2": qps})
            print(f"  faiss {name} ef {ef:4d}: recall@10 {recall:.4f}, {lat * 1e3:.3f} ms/query (1 thread), {qps:.0f} QPS (2 threads)", flush=True)
        out["indexes"].append({"name": name, "build_s": build_s, "rss_anon": mem, "points": pts})
        del index
    with open(os.path.join(a.dir, "faiss.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
