//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec/engage"
)

// Full disks come from a small tmpfs that the test mounts (it needs CAP_SYS_ADMIN: root in a
// container, a CI runner with sudo rights does not count). Where mounting is impossible the
// same cases run with a file-size limit on the process (prlimit --fsize, RLIMIT_FSIZE): a
// write past the limit fails with EFBIG instead of ENOSPC. The table says which ran.

// probeMount tries to mount a tmpfs under dir and says which mode the suite runs in.
func probeMount(dir string) string {
	p := filepath.Join(dir, "probe")
	if err := os.Mkdir(p, 0o755); err != nil {
		return "fsize"
	}
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", p).Run(); err != nil {
		return "fsize"
	}
	exec.Command("umount", p).Run()
	return "tmpfs"
}

func fsModeText() string {
	if fsMode == "tmpfs" {
		return "tmpfs mounted by the test (ENOSPC)"
	}
	return "no mount possible here: file-size limit (prlimit --fsize, EFBIG) instead of a full tmpfs"
}

// noSpace is the message a write on the full disk fails with.
func noSpace() string {
	if fsMode == "tmpfs" {
		return "no space left on device"
	}
	return "file too large"
}

// smallFS returns a folder on a file system of size bytes (a fresh tmpfs), unmounted at the end.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	require.NoError(t, os.Mkdir(dir, 0o755))
	if fsMode == "tmpfs" {
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput()
		require.NoError(t, err, "mount: %s", out)
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	}
	return dir
}

// full is a disk with room bytes left: filled up to that (tmpfs), or a limit that the runs
// of the binary get (fsize).
type full struct {
	dir    string
	room   int64
	filler string
}

// fill leaves room bytes free on dir's file system.
func fill(t *testing.T, dir string, room int64) *full {
	t.Helper()
	f := &full{dir: dir, room: room}
	if fsMode != "tmpfs" {
		return f
	}
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	avail := int64(st.Bavail) * st.Bsize
	f.filler = filepath.Join(dir, "filler.bin")
	w, err := os.Create(f.filler)
	require.NoError(t, err)
	buf := make([]byte, 64<<10)
	for left := avail - room; left > 0; {
		n, err := w.Write(buf[:min(int64(len(buf)), left)])
		left -= int64(n)
		if err != nil {
			break // full already
		}
	}
	w.Close()
	return f
}

// release gives the space back.
func (f *full) release() {
	if f.filler != "" {
		os.Remove(f.filler)
	}
	f.room = -1
}

// run runs the binary on the (still) full disk.
func (f *full) run(t *testing.T, args ...string) result {
	t.Helper()
	if fsMode == "tmpfs" || f.room < 0 {
		return pinrecRun(t, nil, args...)
	}
	ctx := context.Background()
	cmd := exec.CommandContext(ctx, "prlimit", append([]string{"--fsize=" + strconv.FormatInt(f.room, 10), bin}, args...)...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{so.String(), se.String(), code}
}

// fixture is what the disk and kill cases share: a folder of images and the index of a clean,
// undisturbed run over it.
type fixture struct {
	images string  // 80 images, 000.png to 079.png
	clean  vectors // pinrec index of it, never disturbed
	index  string  // that index file (do not modify: copy it)
}

var (
	fix     *fixture
	fixOnce = make(chan struct{}, 1)
)

func getFixture(t *testing.T) *fixture {
	t.Helper()
	fixOnce <- struct{}{}
	defer func() { <-fixOnce }()
	if fix != nil {
		return fix
	}
	dir, err := os.MkdirTemp("", "pinrec-faults-fixture-")
	require.NoError(t, err)
	f := &fixture{images: filepath.Join(dir, "pins"), index: filepath.Join(dir, "clean.pinrec")}
	writeImages(t, f.images, 80, 1000)
	pinrecOK(t, indexArgs(f.index, f.images)...)
	f.clean, err = readIndex(f.index)
	require.NoError(t, err)
	require.Len(t, f.clean, 80)
	fix = f
	return f
}

// copyImages copies images first..last-1 of the fixture into dir.
func copyImages(t *testing.T, f *fixture, dir string, first, last int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i := first; i < last; i++ {
		name := fmt.Sprintf("%03d.png", i)
		copyFile(t, filepath.Join(f.images, name), filepath.Join(dir, name))
	}
}

// TestDiskFull runs index (its final save and its checkpoints), build-ann and engage -events
// on a disk that runs out of space at a random point.
func TestDiskFull(t *testing.T) {
	f := getFixture(t)
	rng := rand.New(rand.NewPCG(22, 1))
	fileSize := func() int64 { st, _ := os.Stat(f.index); return st.Size() }()

	// A sync that adds 40 images to a 40-image index; its save fails.
	runCase(t, "disk full: index save", trials(3, 10), func(t *testing.T, i int) outcome {
		disk := smallFS(t, 4<<20)
		images := filepath.Join(t.TempDir(), "pins")
		idx := filepath.Join(disk, "pins.pinrec")
		copyImages(t, f, images, 0, 40)
		pinrecOK(t, indexArgs(idx, images)...)
		before := sum(t, idx)
		copyImages(t, f, images, 40, 80)
		full := fill(t, disk, rng.Int64N(fileSize))
		r := full.run(t, indexArgs(idx, images)...)
		o := outcome{note: "save failed"}
		if !clear(r, idx, noSpace()) {
			o.unclear++
			o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		if sum(t, idx) != before {
			o.corrupt++
		}
		if _, err := readIndex(idx); err != nil {
			o.corrupt++
		}
		if l := leftovers(disk); len(l) > 0 {
			o.fail += fmt.Sprintf(" temporary files left: %v", l)
		}
		full.release()
		pinrecOK(t, indexArgs(idx, images)...)
		if got, err := readIndex(idx); err != nil || !equalVectors(got, f.clean) {
			o.fail += fmt.Sprintf(" the run after the space came back did not end like a clean one (%v)", err)
		}
		return o
	})

	// A first run saving a checkpoint after every image runs out of space in one of them.
	runCase(t, "disk full: index checkpoint", trials(3, 10), func(t *testing.T, i int) outcome {
		disk := smallFS(t, 4<<20)
		idx := filepath.Join(disk, "pins.pinrec")
		full := fill(t, disk, rng.Int64N(fileSize))
		r := full.run(t, indexArgs(idx, f.images, "-checkpoint", "1ns", "-workers", "1", "-batch", "1")...)
		o := outcome{}
		switch {
		case r.code == 0:
			o.note = "room enough" // possible when the room drawn is near the file's size
			if got, err := readIndex(idx); err != nil || !equalVectors(got, f.clean) {
				o.corrupt++
				o.fail = fmt.Sprintf("exit 0 but the index is not complete (%v): %s", err, r.stderr)
			}
		case strings.Contains(r.stderr, "checkpoint: save "+idx):
			o.note = "checkpoint failed"
		default:
			o.note = "final save failed"
		}
		if r.code != 0 && !clear(r, idx, noSpace()) {
			o.unclear++
			o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		if _, err := os.Stat(idx); err == nil {
			got, err := readIndex(idx)
			if err != nil {
				o.corrupt++
				o.fail += " " + err.Error()
			} else if msg := consistentWith(got, f.clean); msg != "" {
				o.corrupt++
				o.fail += " " + msg
			}
		}
		full.release()
		pinrecOK(t, indexArgs(idx, f.images)...)
		if got, err := readIndex(idx); err != nil || !equalVectors(got, f.clean) {
			o.fail += fmt.Sprintf(" the run after the space came back did not end like a clean one (%v)", err)
		}
		return o
	})

	// build-ann replacing the index file in place.
	runCase(t, "disk full: build-ann", trials(2, 10), func(t *testing.T, i int) outcome {
		disk := smallFS(t, 4<<20)
		idx := filepath.Join(disk, "pins.pinrec")
		copyFile(t, f.index, idx)
		before := sum(t, idx)
		full := fill(t, disk, rng.Int64N(fileSize))
		r := full.run(t, "build-ann", "-index", idx)
		o := outcome{note: "save failed"}
		if !clear(r, idx, noSpace()) {
			o.unclear++
			o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		if sum(t, idx) != before {
			o.corrupt++
		}
		full.release()
		pinrecOK(t, "build-ann", "-index", idx)
		if got, err := readIndex(idx); err != nil || !equalVectors(got, f.clean) {
			o.fail += fmt.Sprintf(" the run after the space came back did not end like a clean one (%v)", err)
		}
		return o
	})

	// engage -events: 1,000 events recorded, then an import of 12,000 on a disk that fills up.
	ids := sortedKeys(f.clean)
	first := eventsFile(t, ids, 0, 1000)
	second := eventsFile(t, ids, 1000, 13000)
	recordedRE := regexp.MustCompile(`\((\d+) events recorded before this batch\)`)
	runCase(t, "disk full: engage -events", trials(3, 10), func(t *testing.T, i int) outcome {
		disk := smallFS(t, 8<<20)
		db := filepath.Join(disk, "pins.engage.db")
		pinrecOK(t, "engage", "-index", f.index, "-db", db, "-events", first)
		full := fill(t, disk, rng.Int64N(1<<20))
		r := full.run(t, "engage", "-index", f.index, "-db", db, "-events", second, "-batch", "500")
		o := outcome{}
		acked := 1000
		if r.code == 0 {
			o.note = "room enough"
			acked = 13000
		} else {
			o.note = "import failed"
			if m := recordedRE.FindStringSubmatch(r.stderr); m != nil {
				n, _ := strconv.Atoi(m[1])
				acked += n
				o.note = "failed inside the import"
			}
			// SQLite says "database or disk is full" on ENOSPC, "disk I/O error" on EFBIG.
			if !clear(r, db, map[string]string{"tmpfs": "database or disk is full", "fsize": "disk I/O error"}[fsMode]) {
				o.unclear++
				o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
			}
		}
		full.release()
		got, bad := engageHistory(t, db)
		o.corrupt += bad
		for n := range acked {
			if !got[n] {
				o.ackedLost++
			}
		}
		if len(got) != acked {
			o.corrupt++ // a part of a batch, or more than was acknowledged
			o.fail += fmt.Sprintf(" %d events in the database, %d acknowledged", len(got), acked)
		}
		pinrecOK(t, "engage", "-index", f.index, "-db", db, "-events", second, "-batch", "500")
		if got, _ := engageHistory(t, db); len(got) != 13000 {
			o.fail += fmt.Sprintf(" the import after the space came back holds %d events, want 13000", len(got))
		}
		return o
	})
}

// eventsFile writes events [from, to) of a fixed stream (each a save that changes state, so each
// is one line of the history) as CSV with times; event n is at second n.
func eventsFile(t *testing.T, ids []string, from, to int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("user,item,action,time\n")
	for n := from; n < to; n++ {
		fmt.Fprintf(&b, "u%d,%s,save,%d\n", n/len(ids), ids[n%len(ids)], 1_700_000_000+n)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("events-%d-%d.csv", from, to))
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// engageHistory opens the engagement database with the library and returns the stream numbers
// of the events in its history, and 1 if the database fails its integrity check or does
// not open.
func engageHistory(t *testing.T, db string) (map[int]bool, int) {
	t.Helper()
	s, err := engage.Open(db)
	if err != nil {
		t.Logf("engage.Open %s: %v", db, err)
		return nil, 1
	}
	defer s.Close()
	h, err := s.History(context.Background(), 0, 0)
	if err != nil {
		t.Logf("history: %v", err)
		return nil, 1
	}
	got := map[int]bool{}
	bad := 0
	for _, l := range h {
		n := int(l.Time.Unix() - 1_700_000_000)
		if got[n] {
			bad = 1 // recorded twice
		}
		got[n] = true
	}
	if integrity(t, db) != "ok" {
		bad = 1
	}
	return got, bad
}

func sortedKeys(v vectors) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
