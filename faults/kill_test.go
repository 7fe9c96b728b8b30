//go:build faults

package faults

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/engage"
)

// integrity runs SQLite's integrity check on a database file.
func integrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
		return err.Error()
	}
	return check
}

// inWriteTransaction reports whether some process holds the write lock of the SQLite database
// at path, that is, is between BEGIN IMMEDIATE and the end of COMMIT: a BEGIN IMMEDIATE of ours
// with no busy timeout is refused with SQLITE_BUSY. (Ours, when granted, is rolled back.)
func inWriteTransaction(t *testing.T, path string) bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		msg := strings.ToLower(err.Error())
		require.True(t, strings.Contains(msg, "busy") || strings.Contains(msg, "locked"), "probe: %v", err)
		return true
	}
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	return false
}

// timed runs the binary once undisturbed and returns how long it took.
func timed(t *testing.T, args ...string) time.Duration {
	t.Helper()
	t0 := time.Now()
	pinrecOK(t, args...)
	return time.Since(t0)
}

// TestKill kills -9 index (first run and sync), build-ann, engage -events and serve at random
// points, then checks the files and runs the command again.
func TestKill(t *testing.T) {
	f := getFixture(t)
	rng := rand.New(rand.NewPCG(22, 2))
	slow := []string{"-checkpoint", "1ns", "-workers", "1", "-batch", "1"} // a save after every image: many to land in

	// First run.
	durIndex := timed(t, indexArgs(filepath.Join(t.TempDir(), "t.pinrec"), f.images, slow...)...)
	runCase(t, "kill -9: index (first run)", trials(4, 25), func(t *testing.T, i int) outcome {
		dir := t.TempDir()
		idx := filepath.Join(dir, "pins.pinrec")
		p := pinrecStart(t, nil, indexArgs(idx, f.images, slow...)...)
		time.Sleep(randomDelay(rng, durIndex*3/4)) // the clean run's time varies with the load
		o := outcome{note: landed(p.kill(), dir, idx)}
		if _, err := os.Stat(idx); err == nil {
			got, err := readIndex(idx)
			if err != nil {
				o.corrupt++
				o.fail = err.Error()
			} else if msg := consistentWith(got, f.clean); msg != "" {
				o.corrupt++
				o.fail = msg
			}
		}
		pinrecOK(t, indexArgs(idx, f.images)...)
		if got, err := readIndex(idx); err != nil || !equalVectors(got, f.clean) {
			o.fail += fmt.Sprintf(" the run after the kill did not end like a clean one (%v)", err)
		}
		if l := leftovers(dir); len(l) > 0 {
			o.fail += fmt.Sprintf(" the run after the kill left the killed save's temporary files %v", l)
		}
		return o
	})

	// Sync: 5 images changed, 20 added, 10 deleted.
	runCase(t, "kill -9: index (sync)", trials(3, 20), func(t *testing.T, i int) outcome {
		dir := t.TempDir()
		images := filepath.Join(dir, "pins")
		idx := filepath.Join(dir, "pins.pinrec")
		copyImages(t, f, images, 5, 60)
		for j := range 5 {
			writeImage(t, filepath.Join(images, fmt.Sprintf("%03d.png", j)), 5000+uint64(j))
		}
		for j := range 10 {
			writeImage(t, filepath.Join(images, fmt.Sprintf("x%03d.png", j)), 6000+uint64(j))
		}
		pinrecOK(t, indexArgs(idx, images)...)
		before, err := readIndex(idx)
		require.NoError(t, err)
		copyImages(t, f, images, 0, 80)
		for j := range 10 {
			require.NoError(t, os.Remove(filepath.Join(images, fmt.Sprintf("x%03d.png", j))))
		}
		p := pinrecStart(t, nil, indexArgs(idx, images, slow...)...)
		time.Sleep(randomDelay(rng, durIndex*3/4))
		o := outcome{note: landed(p.kill(), dir, idx)}
		got, err := readIndex(idx)
		if err != nil {
			o.corrupt++
			o.fail = err.Error()
		} else if msg := consistentWith(got, before, f.clean); msg != "" {
			o.corrupt++
			o.fail = msg
		}
		if _, err := os.Stat(idx + ".prev"); err == nil {
			if prev, err := readIndex(idx + ".prev"); err != nil || !equalVectors(prev, before) {
				o.corrupt++
				o.fail += fmt.Sprintf(" %s.prev is not the index before the sync (%v)", idx, err)
			}
		}
		pinrecOK(t, indexArgs(idx, images)...)
		if got, err := readIndex(idx); err != nil || !equalVectors(got, f.clean) {
			o.fail += fmt.Sprintf(" the run after the kill did not end like a clean one (%v)", err)
		}
		if l := leftovers(dir); len(l) > 0 {
			o.fail += fmt.Sprintf(" the run after the kill left the killed save's temporary files %v", l)
		}
		return o
	})

	// build-ann of a 20,000-item index into -out.
	big := filepath.Join(t.TempDir(), "big.pinrec")
	bigVectors := makeIndex(t, big, 20000, 64)
	bigSum := sum(t, big)
	durANN := timed(t, "build-ann", "-index", big, "-out", filepath.Join(t.TempDir(), "t.ann.pinrec"))
	runCase(t, "kill -9: build-ann", trials(3, 20), func(t *testing.T, i int) outcome {
		dir := t.TempDir()
		out := filepath.Join(dir, "big.ann.pinrec")
		p := pinrecStart(t, nil, "build-ann", "-index", big, "-out", out)
		if i%2 == 1 {
			// The final save is a few milliseconds of a run: every other kill waits for the
			// save's temporary file to appear, to land inside it.
			waitForSave(p, dir, 2*durANN+time.Minute)
		} else {
			time.Sleep(randomDelay(rng, durANN))
		}
		o := outcome{note: landed(p.kill(), dir, out)}
		if o.note == "before the first save" {
			o.note = "during the build"
		}
		if sum(t, big) != bigSum {
			o.corrupt++
			o.fail = "the source index changed"
		}
		if _, err := os.Stat(out); err == nil {
			if got, err := readIndex(out); err != nil || !equalVectors(got, bigVectors) {
				o.corrupt++
				o.fail += fmt.Sprintf(" %s after the kill: %v", out, err)
			}
		}
		pinrecOK(t, "build-ann", "-index", big, "-out", out)
		if got, err := readIndex(out); err != nil || !equalVectors(got, bigVectors) {
			o.fail += fmt.Sprintf(" the run after the kill did not end like a clean one (%v)", err)
		}
		if l := leftovers(dir); len(l) > 0 {
			o.fail += fmt.Sprintf(" the run after the kill left the killed save's temporary files %v", l)
		}
		return o
	})

	// engage -events: 20,000 events in batches of 200; the process is stopped (SIGSTOP) at a
	// random point, the database's write lock is probed to show where it stopped, then it is
	// killed.
	ids := sortedKeys(f.clean)
	events := eventsFile(t, ids, 0, 20000)
	durEngage := timed(t, "engage", "-index", f.index, "-db", filepath.Join(t.TempDir(), "t.db"), "-events", events, "-batch", "200")
	runCase(t, "kill -9: engage -events", trials(4, 25), func(t *testing.T, i int) outcome {
		db := filepath.Join(t.TempDir(), "pins.engage.db")
		p := pinrecStart(t, nil, "engage", "-index", f.index, "-db", db, "-events", events, "-batch", "200")
		time.Sleep(randomDelay(rng, durEngage*3/4))
		o := outcome{note: "after the end"}
		if !p.exited() {
			p.cmd.Process.Signal(syscall.SIGSTOP)
			o.note = "outside a transaction"
			if _, err := os.Stat(db); err != nil {
				o.note = "before the database existed"
			} else if inWriteTransaction(t, db) {
				o.note = "inside a transaction"
			}
		}
		p.kill()
		if _, err := os.Stat(db); err == nil {
			got, bad := engageHistory(t, db)
			o.corrupt += bad
			for n := range len(got) {
				if !got[n] {
					o.corrupt++ // not a prefix of the stream
					o.fail = fmt.Sprintf("event %d missing below %d", n, len(got))
					break
				}
			}
			if len(got)%200 != 0 {
				o.corrupt++
				o.fail += fmt.Sprintf(" %d events: not whole batches", len(got))
			}
		}
		pinrecOK(t, "engage", "-index", f.index, "-db", db, "-events", events, "-batch", "200")
		if got, bad := engageHistory(t, db); len(got) != 20000 || bad != 0 {
			o.fail += fmt.Sprintf(" the import after the kill holds %d events, want 20000", len(got))
		}
		return o
	})

	// serve under likes and saves: every write answered 200 must be in the database.
	runCase(t, "kill -9: serve under writes", trials(3, 20), func(t *testing.T, i int) outcome {
		dir := t.TempDir()
		idx := filepath.Join(dir, "pins.pinrec")
		copyFile(t, f.index, idx)
		p, base := startServe(t, idx)
		acked := make(chan ackedEvent, 1<<16)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Go(func() { writeLoop(base, ids[c*20:], acked, stop) })
		}
		time.Sleep(300*time.Millisecond + randomDelay(rng, 1500*time.Millisecond))
		p.kill()
		close(stop)
		wg.Wait()
		close(acked)
		o := outcome{note: "while writing"}
		db := engage.PathFor(idx)
		have := map[ackedEvent]int{} // the history as a multiset
		s, err := engage.Open(db)
		if err != nil {
			o.corrupt++
			o.fail = err.Error()
		} else {
			h, err := s.History(context.Background(), 0, 0)
			require.NoError(t, err)
			for _, l := range h {
				have[ackedEvent{l.User, l.Item, string(l.Action)}]++
			}
			s.Close()
		}
		n := 0
		for a := range acked {
			n++
			if have[a] == 0 {
				o.ackedLost++
			} else {
				have[a]--
			}
		}
		if n == 0 {
			o.fail += " no write was acknowledged before the kill"
		}
		if integrity(t, db) != "ok" {
			o.corrupt++
		}
		// Serving again works and takes writes.
		p2, base2 := startServe(t, idx)
		if code, _ := post(base2, "", "save", ids[0]); code != http.StatusOK {
			o.fail += fmt.Sprintf(" serve after the kill answered %d", code)
		}
		p2.cmd.Process.Signal(syscall.SIGTERM)
		<-p2.done
		return o
	})
}

// landed says where a kill landed: after the process had ended, before its first save, during a
// save (a temporary file of the save was left), or between saves.
func landed(killed bool, dir, file string) string {
	switch {
	case !killed:
		return "after the end"
	case len(leftovers(dir)) > 0:
		return "during a save"
	}
	if _, err := os.Stat(file); err != nil {
		return "before the first save"
	}
	return "between saves"
}

// waitForSave returns as soon as a temporary file of a save appears in dir, when p ends, or
// after limit.
func waitForSave(p *proc, dir string, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) && !p.exited() {
		if len(leftovers(dir)) > 0 {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// makeIndex saves an index of n random vectors of dimension dim and returns them.
func makeIndex(t *testing.T, path string, n, dim int) vectors {
	t.Helper()
	ix, err := pinrec.NewIndex(dim)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 5))
	out := vectors{}
	items := make([]pinrec.Item, n)
	for i := range items {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		id := fmt.Sprintf("v%05d", i)
		items[i] = pinrec.Item{ID: id, Vector: v}
		out[id] = v
	}
	require.NoError(t, ix.Add(items...))
	require.NoError(t, ix.Save(path))
	return out
}

var serveAddr = regexp.MustCompile(`on http://([0-9.:]+)/`)

// startServe starts pinrec serve on a free port and returns it with its base URL.
func startServe(t *testing.T, idx string) (*proc, string) {
	t.Helper()
	p := pinrecStart(t, nil, "serve", "-index", idx, "-addr", "127.0.0.1:0")
	for range 600 {
		if m := serveAddr.FindStringSubmatch(p.output()); m != nil {
			return p, "http://" + m[1]
		}
		require.False(t, p.exited(), "serve ended: %s", p.output())
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not start: %s", p.output())
	return nil, ""
}

var client = &http.Client{Timeout: 10 * time.Second}

// ackedEvent is a like or save that serve answered 200.
type ackedEvent struct{ user, item, action string }

// post sends action on item through the page's API as the visitor of cookie ("": a new one)
// and returns the status (0: no answer) and the visitor's cookie afterwards.
func post(base, cookie, action, item string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, base+"/api/engage/"+action+"/"+item, nil)
	if err != nil {
		return 0, cookie
	}
	req.Header.Set("Accept", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "pinrec_user", Value: cookie})
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, cookie
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "pinrec_user" {
			cookie = c.Value
		}
	}
	return resp.StatusCode, cookie
}

// visitorUser is the engagement user ID of a visitor cookie: the server signs 16 random bytes
// ("R.M", base64url) and records the visitor as web: and their hex digits.
func visitorUser(cookie string) string {
	r, _, _ := strings.Cut(cookie, ".")
	b, err := base64.RawURLEncoding.DecodeString(r)
	if err != nil {
		return ""
	}
	return "web:" + hex.EncodeToString(b)
}

// writeLoop saves and unsaves items in turn as one visitor until stop, sending each
// acknowledged event. Each changes the visitor's state, so each is one line of the history.
func writeLoop(base string, ids []string, acked chan<- ackedEvent, stop <-chan struct{}) {
	cookie := ""
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		item, action := ids[n%len(ids)], "save"
		if (n/len(ids))%2 == 1 {
			action = "unsave"
		}
		code, c := post(base, cookie, action, item)
		if code != http.StatusOK {
			n-- // not applied: the same event again
			if code == 0 || code >= 500 {
				time.Sleep(10 * time.Millisecond)
			} else {
				time.Sleep(50 * time.Millisecond) // 429: slower
			}
			continue
		}
		cookie = c
		acked <- ackedEvent{visitorUser(cookie), item, action}
	}
}
