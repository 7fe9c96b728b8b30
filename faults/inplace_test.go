//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"pinrec"
)

// TestIndexChangedInPlace: the index file that serve answers from is overwritten in place
// (cp over it: truncated, then written in pieces) or truncated in place while serve answers
// similar-item queries from four clients. Serve must not die, must never answer 200 with an
// answer that is not the exact answer of the old file or of the new one, must name the file
// in whatever error it answers, and must answer from the new file once it is whole. Trials
// alternate a flat index (read into memory) and an hnsw one (memory-mapped).
func TestIndexChangedInPlace(t *testing.T) {
	f := getFixture(t)
	work := t.TempDir()
	// The other file: the same IDs and info, each ID with the next one's vector, so that an
	// answer from a mix of the two files shows.
	ids := sortedKeys(f.clean)
	rotated := vectors{}
	for i, id := range ids {
		rotated[id] = f.clean[ids[(i+1)%len(ids)]]
	}
	files := map[string][2]string{} // kind -> old file, new file
	oldFlat, newFlat := filepath.Join(work, "old.pinrec"), filepath.Join(work, "new.pinrec")
	copyFile(t, f.index, oldFlat)
	src, err := pinrec.Load(f.index)
	require.NoError(t, err)
	ix, err := pinrec.NewIndex(src.Dim())
	require.NoError(t, err)
	for k, v := range src.Info() {
		ix.SetInfo(k, v)
	}
	for _, id := range ids {
		it, err := src.Get(id)
		require.NoError(t, err)
		it.Vector = rotated[id]
		require.NoError(t, ix.Add(it))
	}
	require.NoError(t, ix.Save(newFlat))
	src.Close()
	files["flat"] = [2]string{oldFlat, newFlat}
	oldHNSW, newHNSW := filepath.Join(work, "old-hnsw.pinrec"), filepath.Join(work, "new-hnsw.pinrec")
	// efSearch above the item count: the search is the graph's exact scan of the mapped
	// vectors, the same answer on every CPU.
	pinrecOK(t, "build-ann", "-index", oldFlat, "-out", oldHNSW, "-ef", "200")
	pinrecOK(t, "build-ann", "-index", newFlat, "-out", newHNSW, "-ef", "200")
	files["hnsw"] = [2]string{oldHNSW, newHNSW}

	for _, mode := range []string{"overwritten in place", "truncated in place"} {
		runCase(t, "hostile: index "+mode, trials(4, 10), func(t *testing.T, i int) outcome {
			kind := []string{"flat", "hnsw"}[i%2]
			old, next := files[kind][0], files[kind][1]
			want := map[string]vectors{old: f.clean, next: rotated}
			dir := t.TempDir()
			idx := filepath.Join(dir, "pins.pinrec")
			copyFile(t, old, idx)
			p, base := startServe(t, idx)
			defer func() {
				p.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-p.done:
				case <-time.After(30 * time.Second):
					p.kill()
				}
			}()
			o := outcome{}
			if msg := answersFrom(base, ids[:10], f.clean); msg != "" {
				o.fail = "before the change: " + msg
				return o
			}
			l := startLoad(base, ids, idx, f.clean, rotated)
			time.Sleep(300 * time.Millisecond)
			final := f.clean
			if mode == "overwritten in place" {
				overwriteInPlace(t, next, idx)
				final = want[next]
			} else {
				st, err := os.Stat(idx)
				require.NoError(t, err)
				require.NoError(t, os.Truncate(idx, st.Size()/3))
				time.Sleep(1500 * time.Millisecond)
				overwriteInPlace(t, old, idx) // put back whole
			}
			// Serve picks up the whole file.
			var msg string
			for range 100 {
				if msg = answersFrom(base, ids[:10], final); msg == "" {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			st := l.stop()
			if msg != "" {
				o.fail = "after the file was whole again: " + msg
			}
			o.corrupt += st.wrong
			o.unclear += st.unclear
			if st.wrong+st.unclear > 0 {
				o.fail += " " + st.firstBad
			}
			out := p.output()
			if p.exited() || strings.Contains(out, "panic:") || strings.Contains(out, "SIGBUS") || strings.Contains(out, "fatal error") {
				o.fail += " serve died: " + out
				o.unclear++
			}
			if !strings.Contains(out, "index "+idx+" changed on disk") {
				o.unclear++
				o.fail += " serve did not log that the file changed: " + out
			}
			switch {
			case st.faulted > 0:
				o.note = kind + " refused (a fault recovered)"
			case st.refused > 0:
				o.note = kind + " refused (the change seen)"
			case kind == "flat":
				o.note = "flat answered from memory"
			default:
				o.note = kind + " no query during the change"
			}
			if st.ok == 0 {
				o.fail += " no query was answered"
			}
			return o
		})
	}
}

// overwriteInPlace rewrites dst with src's bytes as cp does (the same file, truncated, then
// written), in pieces with pauses, as a large file is copied.
func overwriteInPlace(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	for off := 0; off < len(b); off += 16 << 10 {
		_, err := out.Write(b[off:min(off+16<<10, len(b))])
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, out.Close())
}

// sameAsExact reports whether got is the exact answer over v for the item id: k results,
// each at the distance of the exact answer's result of its rank (to a float32 rounding, so
// that two items at nearly the same distance may come in either order on any CPU).
func sameAsExact(v vectors, id string, got []string) bool {
	want := exactSimilar(v, id, 5)
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for i, g := range got {
		w, ok := v[g]
		if !ok || g == id || seen[g] {
			return false
		}
		seen[g] = true
		dg, dw := dist(v[id], w), dist(v[id], v[want[i]])
		if math.Abs(dg-dw) > 1e-4*(1+dw) {
			return false
		}
	}
	return true
}

func dist(a, b []float32) float64 {
	var d float64
	for j := range a {
		x := float64(a[j]) - float64(b[j])
		d += x * x
	}
	return d
}

// exactSimilar is the oracle: the k IDs nearest to id's vector, id left out, by brute force.
func exactSimilar(v vectors, id string, k int) []string {
	q := v[id]
	type hit struct {
		id string
		d  float64
	}
	var hits []hit
	for other, w := range v {
		if other == id {
			continue
		}
		var d float64
		for j := range q {
			x := float64(q[j]) - float64(w[j])
			d += x * x
		}
		hits = append(hits, hit{other, d})
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, 0, k)
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.id)
	}
	return out
}

// similar asks serve for the 5 items most like id, near-duplicates shown.
func similar(base, id string) (int, []string, string, error) {
	resp, err := client.Get(base + "/api/similar/" + id + "?k=5&dupes=show")
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(body), nil
	}
	var a struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return resp.StatusCode, nil, string(body), err
	}
	var got []string
	for _, r := range a.Results {
		got = append(got, r.ID)
	}
	return resp.StatusCode, got, string(body), nil
}

// answersFrom returns "" when serve answers each of ids exactly as the oracle over v does.
func answersFrom(base string, ids []string, v vectors) string {
	for _, id := range ids {
		code, got, body, err := similar(base, id)
		if err != nil || code != http.StatusOK {
			return fmt.Sprintf("similar %s: %d %v %s", id, code, err, body)
		}
		if !sameAsExact(v, id, got) {
			return fmt.Sprintf("similar %s: %v, the exact answer is %v", id, got, exactSimilar(v, id, 5))
		}
	}
	return ""
}

// load is four clients asking serve for similar items, checking each answer.
type load struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	st   loadStats
}

type loadStats struct {
	ok, refused, wrong, unclear int
	faulted                     int // refusals that followed a fault recovered in serve
	firstBad                    string
}

func startLoad(base string, ids []string, idx string, oracles ...vectors) *load {
	l := &load{done: make(chan struct{})}
	for c := range 4 {
		l.wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 9))
			for {
				select {
				case <-l.done:
					return
				default:
				}
				id := ids[r.IntN(len(ids))]
				code, got, body, err := similar(base, id)
				l.mu.Lock()
				bad := func(what string) {
					if l.st.firstBad == "" {
						l.st.firstBad = what
					}
				}
				switch {
				case err != nil:
					l.st.unclear++
					bad(fmt.Sprintf("similar %s: %v", id, err))
				case code == http.StatusOK:
					match := false
					for _, o := range oracles {
						match = match || sameAsExact(o, id, got)
					}
					if match {
						l.st.ok++
					} else {
						l.st.wrong++
						bad(fmt.Sprintf("similar %s answered %v, the exact answer of neither file", id, got))
					}
				case code >= 500 && strings.Contains(body, idx):
					l.st.refused++
					if strings.Contains(body, "faulted") {
						l.st.faulted++
					}
				default:
					l.st.unclear++
					bad(fmt.Sprintf("similar %s: %d %s", id, code, body))
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) stop() loadStats {
	close(l.done)
	l.wg.Wait()
	return l.st
}
