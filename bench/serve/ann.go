package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"pinrec"
	"pinrec/ann"
	"pinrec/internal/synth"
)

// The approximate-index phase of bench-serve (run.sh with BENCH_ANN_N, BENCH_ANN_FILE or
// BENCH_ANN_DIR): `pinrec serve` on an hnsw index file, measured from the process's start to
// its first answer, then `similar` requests from several clients.

// modelInfo is the index-level metadata `pinrec index` records for the model in dir (the keys
// of examples/cli/embedding.go's embeddingInfo), which `pinrec serve` checks against the model
// it opens. An index of synthetic vectors needs it to be served.
func modelInfo(dir string) (map[string]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mi, err := pinrec.ReadModelInfo(abs)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return map[string]string{
		"embedding":  "model",
		"model":      abs,
		"weights":    mi.Weights,
		"pretrained": strconv.FormatBool(mi.Pretrained),
		"dim":        strconv.Itoa(mi.Dim),
		"input_size": strconv.Itoa(mi.InputSize),
		"mode":       mi.Mode.String(),
		"tensorflow": mi.TensorFlowVersion,
		"keras":      mi.KerasVersion,
	}, nil
}

// prepareANN writes out, an hnsw index file stamped with the model's metadata: from a
// bench-ann folder (annDir: exact.idx and ann.idx, kept by BENCH_KEEP=1), or else n synthetic
// vectors of the model's dimension (package internal/synth, CNN-shaped, IDs s0, s1, ...)
// built with ann.Build's defaults on 2 workers. It also writes out+".ids", one ID a line.
func prepareANN(out, annDir, modelDir string, n int, seed uint64) error {
	info, err := modelInfo(modelDir)
	if err != nil {
		return err
	}
	d, _ := strconv.Atoi(info["dim"])
	var a *ann.Index
	t0 := time.Now()
	if annDir != "" {
		ix, err := pinrec.Load(filepath.Join(annDir, "exact.idx"), pinrec.WithMmap(), pinrec.WithoutVectorChecksum())
		if err != nil {
			return err
		}
		if ix.Dim() != d {
			return fmt.Errorf("%s: dimension %d, the model's %d", annDir, ix.Dim(), d)
		}
		sec, err := os.ReadFile(filepath.Join(annDir, "ann.idx"))
		if err != nil {
			return err
		}
		if a, err = ann.Unmarshal(sec, ix); err != nil {
			return err
		}
	} else {
		if n < 1 {
			return fmt.Errorf("-ann-n %d: want at least 1", n)
		}
		s := synth.New(seed, d, 12, 40)
		ix, err := pinrec.NewIndex(d, pinrec.WithCapacity(n))
		if err != nil {
			return err
		}
		for lo := 0; lo < n; lo += 10000 {
			items := make([]pinrec.Item, 0, 10000)
			for i := lo; i < min(lo+10000, n); i++ {
				items = append(items, pinrec.Item{ID: fmt.Sprint("s", i), Vector: s.Draw()})
			}
			if err := ix.Add(items...); err != nil {
				return err
			}
		}
		if a, err = ann.Build(context.Background(), ix, ann.WithWorkers(2)); err != nil {
			return err
		}
	}
	for k, v := range info {
		a.SetInfo(k, v)
	}
	if err := a.Save(out); err != nil {
		return err
	}
	ids := a.IDs()
	f, err := os.Create(out + ".ids")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st := a.Stats()
	fmt.Printf("benchserve: %s: %d items x %d, efSearch %s (recall@10 %s measured at build), %.1f s to prepare\n",
		out, len(ids), d, st["ef_search"], st["recall_at_10"], time.Since(t0).Seconds())
	return nil
}

var (
	listening = regexp.MustCompile(` on (http://127\.0\.0\.1:[0-9]+)/ `)
	checked   = regexp.MustCompile(`matches its checksum|is corrupt on disk`)
)

// annSample is one similar request: when it was sent and how long its answer took.
type annSample struct {
	at time.Time
	d  time.Duration
}

// serveANN starts `bin serve -index index` on a free loopback port, measures the time from the
// process's start to its first successful `similar` answer, then runs clients clients sending
// GET /api/similar/{id}?k=k for duration, and reports their latencies: all of them (the
// benchmark's figure), and apart those sent while serve's background check of the mapped file
// still ran and those sent after it ended (serve logs the end). With steady > 0 it then waits
// for the check to end and measures clients for steady more (serve_ann_steady_*). Last it
// stops the server with SIGTERM. IDs come from index+".ids" (prepareANN), else the first pages
// of the server's item list. With serveLog set the server's standard error goes to that file.
func serveANN(bin, index string, clients int, duration, steady time.Duration, k int, seed uint64, serveLog string) error {
	ids, _ := readLines(index + ".ids")
	var logw io.Writer = io.Discard
	if serveLog != "" {
		f, err := os.Create(serveLog)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	t0 := time.Now()
	cmd := exec.Command(bin, "serve", "-index", index, "-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		if cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}()
	addr := make(chan string, 1)
	checkDone := make(chan time.Time, 1) // when serve logged the end of its check
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stderr)
		sent, told := false, false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logw, line)
			if m := listening.FindStringSubmatch(line); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
			if !sent {
				fmt.Fprintln(os.Stderr, "  serve:", line)
			}
			if checked.MatchString(line) && !told {
				checkDone <- time.Now()
				told = true
			}
		}
		io.Copy(logw, stderr)
		if !sent {
			close(addr)
		}
	}()
	var base string
	select {
	case a, ok := <-addr:
		if !ok {
			return fmt.Errorf("pinrec serve exited before listening")
		}
		base = a
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("pinrec serve did not listen within 10 minutes")
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	if len(ids) == 0 {
		if ids, err = someIDs(hc, base, 20); err != nil {
			return err
		}
	}
	similar := func(id string) (time.Duration, error) {
		t := time.Now()
		resp, err := hc.Get(fmt.Sprintf("%s/api/similar/%s?k=%d", base, url.PathEscape(id), k))
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s", resp.Status)
		}
		return time.Since(t), err
	}
	for {
		if _, err := similar(ids[0]); err == nil {
			break
		} else if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("no answer within 10 minutes: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Since(t0)
	fmt.Printf("benchserve: pinrec serve answered its first similar request %.2f s after it started (%d IDs known); %d clients for %v, k=%d\n",
		start.Seconds(), len(ids), clients, duration, k)

	// load runs the clients for d and returns their samples, the errors and the time taken.
	load := func(d time.Duration, seed uint64) ([]annSample, int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		lat := make([][]annSample, clients)
		errs := make([]int, clients)
		var wg sync.WaitGroup
		t1 := time.Now()
		for c := range clients {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(c)))
				for ctx.Err() == nil {
					at := time.Now()
					d, err := similar(ids[r.IntN(len(ids))])
					if err != nil {
						errs[c]++
						continue
					}
					lat[c] = append(lat[c], annSample{at, d})
				}
			})
		}
		wg.Wait()
		var all []annSample
		nerr := 0
		for c := range clients {
			all = append(all, lat[c]...)
			nerr += errs[c]
		}
		return all, nerr, time.Since(t1)
	}
	p0 := readProcStat(cmd.Process.Pid)
	all, nerr, elapsed := load(duration, seed)
	p1 := readProcStat(cmd.Process.Pid)
	var ended time.Time // the check's end, when it ended during the run
	select {
	case ended = <-checkDone:
	default:
	}
	var during, after []time.Duration
	for _, s := range all {
		if ended.IsZero() || s.at.Before(ended) {
			during = append(during, s.d)
		} else {
			after = append(after, s.d)
		}
	}
	lats := durations(all)
	fmt.Printf("similar: %d requests, %.1f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors\n",
		len(all)+nerr, float64(len(all)+nerr)/elapsed.Seconds(), pct(lats, 0.5), pct(lats, 0.99), pct(lats, 1), nerr)
	check := "still running at the end"
	if !ended.IsZero() {
		check = fmt.Sprintf("ended %.1f s after the start", ended.Sub(t0).Seconds())
	}
	fmt.Printf("  serve's background check of the file %s: sent during it %d (p50 %.2f ms, p99 %.2f ms), after it %d (p50 %.2f ms, p99 %.2f ms)\n",
		check, len(during), pctOf(during, 0.5), pctOf(during, 0.99), len(after), pctOf(after, 0.5), pctOf(after, 0.99))
	fmt.Printf("  p99 ms by %v window: %s\n", duration/4, windows(all, duration/4))
	fmt.Printf("  %s\n", perRequest(p0, p1, len(all), elapsed))
	fmt.Printf("serve_ann_items=%d\nserve_ann_start_s=%.2f\nserve_ann_similar_p50_ms=%.2f\nserve_ann_similar_p99_ms=%.2f\nserve_ann_similar_rps=%.1f\nserve_ann_errors=%d\n",
		len(ids), start.Seconds(), pct(lats, 0.5), pct(lats, 0.99), float64(len(all))/elapsed.Seconds(), nerr)
	fmt.Printf("serve_ann_during_check_requests=%d\nserve_ann_during_check_p99_ms=%.2f\nserve_ann_after_check_requests=%d\nserve_ann_after_check_p99_ms=%.2f\n",
		len(during), pctOf(during, 0.99), len(after), pctOf(after, 0.99))
	if steady > 0 {
		if ended.IsZero() {
			select {
			case ended = <-checkDone:
			case <-time.After(10 * time.Minute):
				return fmt.Errorf("serve's check did not end within 10 minutes")
			}
		}
		fmt.Printf("benchserve: the check ended %.1f s after the start; %d clients for %v more\n", ended.Sub(t0).Seconds(), clients, steady)
		p0 := readProcStat(cmd.Process.Pid)
		st, nerr, elapsed := load(steady, seed+1)
		p1 := readProcStat(cmd.Process.Pid)
		lats := durations(st)
		fmt.Printf("similar, after the check: %d requests, %.1f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors\n",
			len(st)+nerr, float64(len(st)+nerr)/elapsed.Seconds(), pct(lats, 0.5), pct(lats, 0.99), pct(lats, 1), nerr)
		fmt.Printf("  %s\n", perRequest(p0, p1, len(st), elapsed))
		fmt.Printf("serve_ann_steady_p50_ms=%.2f\nserve_ann_steady_p99_ms=%.2f\nserve_ann_steady_rps=%.1f\nserve_ann_steady_errors=%d\n",
			pct(lats, 0.5), pct(lats, 0.99), float64(len(st))/elapsed.Seconds(), nerr)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	werr := cmd.Wait()
	<-readerDone
	cmd.Process = nil
	fmt.Printf("server exit after SIGTERM: %v\n", werr)
	return nil
}

// procStat is a process's CPU time and page faults so far (Linux: /proc/PID/stat; zero
// elsewhere).
type procStat struct {
	cpu            time.Duration // user + system
	minflt, majflt int64
	ok             bool
}

func readProcStat(pid int) procStat {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}
	}
	// The fields after the command name (in parentheses, which may hold spaces): state is
	// field 3, minflt 10, majflt 12, utime 14, stime 15, in clock ticks (100 a second on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procStat{}
	}
	n := func(field int) int64 { v, _ := strconv.ParseInt(f[field-3], 10, 64); return v }
	return procStat{cpu: time.Duration(n(14)+n(15)) * 10 * time.Millisecond, minflt: n(10), majflt: n(12), ok: true}
}

// perRequest describes what the server spent between two procStats over n requests.
func perRequest(a, b procStat, n int, elapsed time.Duration) string {
	if !a.ok || !b.ok || n == 0 {
		return "server CPU time: unknown"
	}
	cpu := b.cpu - a.cpu
	return fmt.Sprintf("server CPU %.2f ms a request (%.2f of the %d cores), %.0f minor and %.2f major page faults a request",
		float64(cpu.Microseconds())/1000/float64(n), cpu.Seconds()/elapsed.Seconds(), runtime.NumCPU(),
		float64(b.minflt-a.minflt)/float64(n), float64(b.majflt-a.majflt)/float64(n))
}

// durations are the samples' latencies, sorted.
func durations(s []annSample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.d
	}
	slices.Sort(out)
	return out
}

// pctOf is pct of unsorted latencies.
func pctOf(ds []time.Duration, p float64) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return pct(ds, p)
}

// windows is the p99 of the requests sent in each window of width w, from the first, in ms.
func windows(s []annSample, w time.Duration) string {
	if len(s) == 0 || w <= 0 {
		return ""
	}
	first := s[0].at
	for _, x := range s {
		if x.at.Before(first) {
			first = x.at
		}
	}
	var by [][]time.Duration
	for _, x := range s {
		i := int(x.at.Sub(first) / w)
		for len(by) <= i {
			by = append(by, nil)
		}
		by[i] = append(by[i], x.d)
	}
	var b strings.Builder
	for i, ds := range by {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.1f", pctOf(ds, 0.99))
	}
	return b.String()
}

// someIDs reads up to pages pages of 500 IDs from the server's item list.
func someIDs(hc *http.Client, base string, pages int) ([]string, error) {
	return allIDsUpTo(hc, base, pages*500)
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if t := sc.Text(); t != "" {
			out = append(out, t)
		}
	}
	return out, sc.Err()
}
