// bench_bandwidth: the machine's read bandwidth, for bench/index/run.sh.
//
// It sums a buffer of SIZE_MB MiB (default 800, larger than any cache) with AVX2 loads and
// eight accumulators, split into contiguous parts over T threads, each read as 1, 4, 8 or 16
// side-by-side sequential streams, and prints the best of REPS passes of each as
// "bandwidth threads=T gbps=X" (decimal GB/s).
//
//   cc -O2 -mavx2 -mfma -pthread bench/bandwidth/bandwidth.c -o bw && ./bw 800 5 1 2   (MiB, REPS, T...)
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static float *buf;
static size_t nfloats;

struct part { size_t lo, hi; int streams; float sum; };

// sum_part sums [lo, hi) as `streams` contiguous pieces read side by side, 64 floats of each
// per step: several sequential streams keep more cache-line fills in flight than one, as a
// scan over several rows at once does.
static void *sum_part(void *arg) {
	struct part *p = arg;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
	int S = p->streams;
	size_t len = ((p->hi - p->lo) / S) & ~(size_t)63;
	for (size_t i = 0; i < len; i += 64) {
		for (int s = 0; s < S; s++) {
			const float *x = buf + p->lo + s * len + i;
			a0 = _mm256_add_ps(a0, _mm256_load_ps(x));
			a1 = _mm256_add_ps(a1, _mm256_load_ps(x + 8));
			a2 = _mm256_add_ps(a2, _mm256_load_ps(x + 16));
			a3 = _mm256_add_ps(a3, _mm256_load_ps(x + 24));
			a4 = _mm256_add_ps(a4, _mm256_load_ps(x + 32));
			a5 = _mm256_add_ps(a5, _mm256_load_ps(x + 40));
			a6 = _mm256_add_ps(a6, _mm256_load_ps(x + 48));
			a7 = _mm256_add_ps(a7, _mm256_load_ps(x + 56));
		}
	}
	a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
	                   _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
	float t[8];
	_mm256_storeu_ps(t, a0);
	p->sum = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
	p->hi = p->lo + S * len; // what was read
	return NULL;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 800;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	nfloats = (mb << 20) / sizeof(float);
	nfloats &= ~(size_t)1023;
	if (posix_memalign((void **)&buf, 4096, nfloats * sizeof(float)) != 0) {
		perror("posix_memalign");
		return 1;
	}
	for (size_t i = 0; i < nfloats; i++) buf[i] = (float)(i & 7);
	float sink = 0;
	for (int a = 3; a < argc || a == 3; a++) {
		int threads = argc > a ? atoi(argv[a]) : 1;
		if (threads < 1 || threads > 64) threads = 1;
		double best = 0; // GB/s, best over the passes and over 1, 4, 8 and 16 streams per thread
		for (int r = 0; r < reps; r++) {
			for (int S = 1; S <= 16; S *= S == 1 ? 4 : 2) {
				pthread_t tid[64];
				struct part parts[64];
				size_t per = (nfloats / threads) & ~(size_t)63;
				double t0 = now();
				for (int t = 0; t < threads; t++) {
					parts[t].lo = t * per;
					parts[t].hi = t == threads - 1 ? nfloats : (t + 1) * per;
					parts[t].streams = S;
					pthread_create(&tid[t], NULL, sum_part, &parts[t]);
				}
				size_t bytes = 0;
				for (int t = 0; t < threads; t++) {
					pthread_join(tid[t], NULL);
					sink += parts[t].sum;
					bytes += (parts[t].hi - parts[t].lo) * sizeof(float);
				}
				double gbps = bytes / (now() - t0) / 1e9;
				if (gbps > best) best = gbps;
			}
		}
		printf("bandwidth threads=%d gbps=%.2f\n", threads, best);
		if (argc <= 3) break;
	}
	fprintf(stderr, "(checksum %g)\n", sink);
	return 0;
}
