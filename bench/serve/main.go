// Command benchserve is the load test of `pinrec serve` (make bench-serve runs it through
// bench/serve/run.sh): N concurrent clients, on loopback only, mix "more like this"
// (GET /api/similar/{id}), upload (POST /api/query) and image (GET /image/{id}) requests for a
// fixed duration, then it prints requests/s, p50/p99 latency per route and the errors, ending
// with name=value lines.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "", "server address, http://127.0.0.1:PORT (loopback only)")
	clients := flag.Int("clients", 8, "concurrent clients")
	duration := flag.Duration("duration", 20*time.Second, "how long the clients send requests")
	k := flag.Int("k", 20, "results per query")
	queries := flag.String("queries", "", "folder of query images for the uploads")
	mix := flag.String("mix", "similar=6,query=2,image=2", "relative weights of the routes")
	seed := flag.Uint64("seed", 1, "random seed")
	saves := flag.Int("stuff-saves", 2000, "anonymous saves of one item from this address after the load test (0: none)")
	pages := flag.Int("stuff-pages", 1000, "item pages checked for the stuffed item in first place")
	pid := flag.Int("pid", 0, "the server's process ID, for the parallel-upload memory phase (0: skip it)")
	nUploads := flag.Int("uploads", 24, "parallel uploads in the memory phase")
	uploadSize := flag.Int64("upload-size", 31_000_000, "bytes per upload in the memory phase")
	slots := flag.Int("upload-slots", 0, "the server's concurrent uploads (serve's default: its GOMAXPROCS), for the goal line")
	limit := flag.Int64("upload-limit", 32<<20, "the server's upload size limit in bytes, for the goal line")
	prepAnn := flag.String("prepare-ann", "", "approximate-index phase: write an hnsw index `file` (from -ann-dir, else -ann-n synthetic vectors) and exit")
	annDir := flag.String("ann-dir", "", "bench-ann folder (exact.idx, ann.idx) that -prepare-ann combines")
	annN := flag.Int("ann-n", 100000, "synthetic items -prepare-ann builds without -ann-dir")
	modelDir := flag.String("model", "models/resnet50", "model folder whose metadata -prepare-ann stamps on the index")
	serveAnn := flag.String("serve-ann", "", "approximate-index phase: serve this hnsw index `file` with -bin, time its start and its similar answers, and exit")
	bin := flag.String("bin", "bin/pinrec", "the pinrec command -serve-ann runs")
	steady := flag.Duration("steady", 0, "-serve-ann: once serve's background check of the file has ended, measure the clients this much longer (0: not)")
	serveLog := flag.String("serve-log", "", "-serve-ann: write the server's standard error to this `file`")
	flag.Parse()
	if *prepAnn != "" || *serveAnn != "" {
		var err error
		if *prepAnn != "" {
			err = prepareANN(*prepAnn, *annDir, *modelDir, *annN, *seed)
		} else {
			err = serveANN(*bin, *serveAnn, *clients, *duration, *steady, *k, *seed, *serveLog)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchserve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*base, *clients, *duration, *k, *queries, *mix, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	ids, err := allIDs(hc, *base)
	if err == nil {
		err = stuffing(*base, ids, *saves, *pages)
	}
	if err == nil {
		err = uploads(*base, *pid, *nUploads, *uploadSize, *slots, *limit)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}

type sample struct {
	route string
	d     time.Duration
	err   string
}

func run(base string, clients int, duration time.Duration, k int, queryDir, mix string, seed uint64) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: the load test only runs against a loopback address", base)
	}
	if clients < 1 || duration <= 0 || duration > 10*time.Minute {
		return fmt.Errorf("want at least 1 client and a duration up to 10 minutes")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ids, err := allIDs(hc, base)
	if err != nil {
		return err
	}
	var uploads [][]byte
	var names []string
	if queryDir != "" {
		filepath.WalkDir(queryDir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".png") {
				if b, err := os.ReadFile(p); err == nil {
					uploads, names = append(uploads, b), append(names, filepath.Base(p))
				}
			}
			return nil
		})
	}
	weights, err := parseMix(mix, len(uploads) > 0)
	if err != nil {
		return err
	}
	fmt.Printf("benchserve: %d clients for %v against %s (%d items, %d query images), mix %s, k=%d\n",
		clients, duration, base, len(ids), len(uploads), mix, k)

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	results := make([][]sample, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			for ctx.Err() == nil {
				route := pick(r, weights)
				var req *http.Request
				switch route {
				case "similar":
					id := ids[r.IntN(len(ids))]
					req, _ = http.NewRequest("GET", fmt.Sprintf("%s/api/similar/%s?k=%d", base, url.PathEscape(id), k), nil)
				case "image":
					req, _ = http.NewRequest("GET", base+"/image/"+url.PathEscape(ids[r.IntN(len(ids))]), nil)
				case "query":
					i := r.IntN(len(uploads))
					body, ctype := multipartBody(names[i], uploads[i])
					req, _ = http.NewRequest("POST", fmt.Sprintf("%s/api/query?k=%d", base, k), body)
					req.Header.Set("Content-Type", ctype)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				s := sample{route: route}
				if err != nil {
					s.err = err.Error()
				} else {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						s.err = resp.Status
					} else if err != nil {
						s.err = err.Error()
					}
				}
				s.d = time.Since(t0)
				results[c] = append(results[c], s)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return report(results, elapsed)
}

// allIDs pages through /api/items.
func allIDs(hc *http.Client, base string) ([]string, error) { return allIDsUpTo(hc, base, 0) }

// allIDsUpTo lists the server's item IDs, stopping after limit of them (0: all).
func allIDsUpTo(hc *http.Client, base string, limit int) ([]string, error) {
	var ids []string
	for off := 0; ; off += 500 {
		resp, err := hc.Get(fmt.Sprintf("%s/api/items?offset=%d&limit=500", base, off))
		if err != nil {
			return nil, err
		}
		var page struct {
			Total int `json:"total"`
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if len(page.Items) == 0 || len(ids) >= page.Total || (limit > 0 && len(ids) >= limit) {
			break
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the server lists no items")
	}
	return ids, nil
}

type weight struct {
	route string
	w     int
}

func parseMix(mix string, haveUploads bool) ([]weight, error) {
	var out []weight
	for _, part := range strings.Split(mix, ",") {
		var w weight
		name, n, ok := strings.Cut(part, "=")
		if _, err := fmt.Sscan(n, &w.w); !ok || err != nil || w.w < 0 {
			return nil, fmt.Errorf("-mix %q: want route=weight,...", mix)
		}
		w.route = name
		if !slices.Contains([]string{"similar", "query", "image"}, name) {
			return nil, fmt.Errorf("-mix: unknown route %q", name)
		}
		if name == "query" && w.w > 0 && !haveUploads {
			return nil, fmt.Errorf("-mix has uploads but -queries names no PNG files")
		}
		out = append(out, w)
	}
	return out, nil
}

func pick(r *rand.Rand, ws []weight) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.route
		}
		n -= w.w
	}
	return ws[len(ws)-1].route
}

func multipartBody(name string, data []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("image", name)
	w.Write(data)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	i := int(p*float64(len(ds))+0.5) - 1
	return float64(ds[max(0, min(i, len(ds)-1))].Microseconds()) / 1000
}

func report(results [][]sample, elapsed time.Duration) error {
	byRoute := map[string][]time.Duration{}
	errs := map[string]int{}
	examples := map[string]string{}
	total, errors := 0, 0
	for _, rs := range results {
		for _, s := range rs {
			total++
			if s.err != "" {
				errors++
				errs[s.route]++
				examples[s.route] = s.err
				continue
			}
			byRoute[s.route] = append(byRoute[s.route], s.d)
		}
	}
	fmt.Printf("%-8s %8s %8s %9s %9s %9s %7s\n", "route", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors")
	routes := []string{"similar", "query", "image"}
	for _, r := range routes {
		ds := byRoute[r]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		if len(ds) == 0 && errs[r] == 0 {
			continue
		}
		fmt.Printf("%-8s %8d %8.1f %9.2f %9.2f %9.2f %7d\n", r, len(ds)+errs[r], float64(len(ds)+errs[r])/elapsed.Seconds(),
			pct(ds, 0.5), pct(ds, 0.99), pct(ds, 1), errs[r])
		if e := examples[r]; e != "" {
			fmt.Printf("         last error: %s\n", e)
		}
	}
	fmt.Printf("serve_rps=%.1f\n", float64(total)/elapsed.Seconds())
	for _, r := range routes {
		ds := byRoute[r]
		fmt.Printf("serve_%s_p50_ms=%.2f\nserve_%s_p99_ms=%.2f\n", r, pct(ds, 0.5), r, pct(ds, 0.99))
	}
	fmt.Printf("serve_requests=%d\nserve_errors=%d\n", total, errors)
	return nil
}
