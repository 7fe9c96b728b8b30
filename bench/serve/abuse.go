package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The stranger phases of the benchmark, after the load test: vote stuffing and parallel
// uploads. Each ends with name=value lines.

// stuffing sends saves anonymous saves of one item from this one address (no cookie, as a
// script would), then counts the item pages, of up to pages spread over the index, whose
// first hybrid result is the stuffed item while their first result by looks is another
// (serve_stuffing_top1_pages: what the stuffing moved); the pages where it is first by looks
// anyway are counted apart. The item's own page is left out.
func stuffing(base string, ids []string, saves, pages int) error {
	if saves < 1 || len(ids) < 2 {
		return nil
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	target := ids[len(ids)/2]
	for _, id := range ids { // a bag among Fashion-MNIST's classes, when there is one
		if strings.HasPrefix(id, "Bag/") {
			target = id
			break
		}
	}
	codes := map[int]int{}
	t0 := time.Now()
	for range saves {
		req, _ := http.NewRequest("POST", base+"/api/engage/save/"+url.PathEscape(target), nil)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("stuffing: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	fmt.Printf("stuffing: %d anonymous saves of %s in %v: %d recorded, %d refused (429)\n",
		saves, target, time.Since(t0).Round(time.Millisecond), codes[http.StatusOK], codes[http.StatusTooManyRequests])
	n := min(pages, len(ids))
	top1, byLooks, checked := 0, 0, 0
	for i := range n {
		id := ids[i*len(ids)/n]
		if id == target {
			continue
		}
		first := func(rank string) (string, error) {
			resp, err := hc.Get(base + "/api/similar/" + url.PathEscape(id) + "?k=1&rank=" + rank)
			if err != nil {
				return "", fmt.Errorf("stuffing: %w", err)
			}
			var a struct {
				Results []struct {
					ID string `json:"id"`
				} `json:"results"`
			}
			err = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || len(a.Results) == 0 {
				return "", fmt.Errorf("stuffing: page %s: %d %v", id, resp.StatusCode, err)
			}
			return a.Results[0].ID, nil
		}
		hybrid, err := first("hybrid")
		if err != nil {
			return err
		}
		looks, err := first("visual")
		if err != nil {
			return err
		}
		checked++
		switch {
		case hybrid == target && looks == target:
			byLooks++ // first by looks alone: not the stuffing's doing
		case hybrid == target:
			top1++
		}
	}
	fmt.Printf("stuffing: %s is the first hybrid result on %d of %d item pages where it is not first by looks (and on %d where it is)\n",
		target, top1, checked, byLooks)
	fmt.Printf("serve_stuffing_saves_recorded=%d\nserve_stuffing_pages_checked=%d\nserve_stuffing_top1_pages=%d\nserve_stuffing_top1_by_looks_pages=%d\n",
		codes[http.StatusOK], checked, top1, byLooks)
	return nil
}

// uploads sends n parallel uploads of size bytes each (a PNG signature, then filler: the
// server streams it to a temporary file and refuses it when decoding) and samples the server's
// resident memory (VmRSS of pid) meanwhile, every 5 ms.
func uploads(base string, pid, n int, size int64, slots int, limit int64) error {
	if n < 1 || pid <= 0 {
		return nil
	}
	idle, err := rssMB(pid)
	if err != nil {
		return err
	}
	var peak atomic.Int64
	peak.Store(int64(idle * 1024))
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if mb, err := rssMB(pid); err == nil && int64(mb*1024) > peak.Load() {
				peak.Store(int64(mb * 1024))
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	hc := &http.Client{Timeout: 5 * time.Minute}
	codes := make([]int, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				w, err := mw.CreateFormFile("image", fmt.Sprintf("big%d.png", i))
				if err == nil {
					w.Write([]byte("\x89PNG\r\n\x1a\n"))
					_, err = io.CopyN(w, zeros{}, size-8)
				}
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
			}()
			req, _ := http.NewRequest("POST", base+"/api/query", pr)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			resp, err := hc.Do(req)
			if err != nil {
				codes[i] = -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	peakMB := float64(peak.Load()) / 1024
	goal := 1.2*idle + float64(slots)*float64(limit)/(1<<20)
	fmt.Printf("uploads: %d parallel uploads of %.1f MB in %v, answers %v (400: not an image, as meant)\n",
		n, float64(size)/1e6, time.Since(t0).Round(time.Millisecond), count)
	fmt.Printf("uploads: idle RSS %.1f MB, peak %.1f MB; goal <= 1.2 x idle + %d slots x %.0f MiB = %.1f MB\n",
		idle, peakMB, slots, float64(limit)/(1<<20), goal)
	fmt.Printf("serve_idle_rss_mb=%.1f\nserve_upload_peak_rss_mb=%.1f\nserve_upload_rss_goal_mb=%.1f\n", idle, peakMB, goal)
	return nil
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// rssMB is the resident memory of process pid in MiB (VmRSS, Linux).
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
