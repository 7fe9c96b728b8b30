//go:build faults

package faults

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSyncRefused: a sync that would wipe an index by mistake is refused, names the folder and
// the counts, and changes no byte of the index.
func TestSyncRefused(t *testing.T) {
	f := getFixture(t)
	cases := []struct {
		name  string
		setup func(t *testing.T, images string) string // returns the folder to sync from
		want  []string
	}{
		{"sync refused: empty folder", func(t *testing.T, images string) string {
			require.NoError(t, os.Rename(images, images+".away")) // an unmounted drive
			require.NoError(t, os.Mkdir(images, 0o755))
			return images
		}, []string{"holds no images", "80 pins"}},
		{"sync refused: another folder", func(t *testing.T, images string) string {
			other := filepath.Join(filepath.Dir(images), "other")
			writeImages(t, other, 10, 9000)
			return other
		}, []string{"was built from", "remove 70 of its 80 pins", "re-embed the other 10 images"}},
		{"sync refused: most removed", func(t *testing.T, images string) string {
			for i := range 50 {
				require.NoError(t, os.Remove(filepath.Join(images, fmt.Sprintf("%03d.png", i))))
			}
			return images
		}, []string{"remove 50 of its 80 pins", "30 images found"}},
	}
	for _, c := range cases {
		runCase(t, c.name, 1, func(t *testing.T, _ int) outcome {
			dir := t.TempDir()
			images := filepath.Join(dir, "pins")
			idx := filepath.Join(dir, "pins.pinrec")
			copyImages(t, f, images, 0, 80)
			pinrecOK(t, indexArgs(idx, images)...)
			before := sum(t, idx)
			from := c.setup(t, images)
			r := pinrecRun(t, nil, indexArgs(idx, from)...)
			o := outcome{note: "refused"}
			if !clear(r, append([]string{"sync refused", idx, from, "-allow-removals"}, c.want...)...) {
				o.unclear++
				o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
			}
			if sum(t, idx) != before {
				o.corrupt++
			}
			// With the flag it goes through, and what it removed is in INDEX.prev.
			pinrecOK(t, indexArgs(idx, from, "-allow-removals")...)
			if prev, err := readIndex(idx + ".prev"); err != nil || !equalVectors(prev, f.clean) {
				o.fail += fmt.Sprintf(" %s.prev does not hold the index before the sync (%v)", idx, err)
			}
			return o
		})
	}
}

// TestHostileFiles: a truncated or garbage engagement database, a read-only index folder, an
// index file replaced while serve has it open.
func TestHostileFiles(t *testing.T) {
	f := getFixture(t)
	ids := sortedKeys(f.clean)
	events := eventsFile(t, ids, 0, 2000)

	damage := []struct {
		name string
		do   func(t *testing.T, db string)
	}{
		{"hostile: engage db truncated", func(t *testing.T, db string) {
			st, err := os.Stat(db)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(db, st.Size()/3))
		}},
		{"hostile: engage db garbage", func(t *testing.T, db string) {
			b := make([]byte, 64<<10)
			for i := range b {
				b[i] = byte(i*7 + i/13)
			}
			require.NoError(t, os.WriteFile(db, b, 0o644))
		}},
		{"hostile: engage db header only", func(t *testing.T, db string) {
			b, err := os.ReadFile(db)
			require.NoError(t, err)
			for i := 100; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			require.NoError(t, os.WriteFile(db, b, 0o644))
		}},
	}
	for _, d := range damage {
		runCase(t, d.name, 3, func(t *testing.T, i int) outcome {
			dir := t.TempDir()
			idx := filepath.Join(dir, "pins.pinrec")
			copyFile(t, f.index, idx)
			db := idx + ".engage.db"
			pinrecOK(t, "engage", "-index", idx, "-events", events)
			pinrecOK(t, "stats", "-index", idx) // a clean close: the log is checkpointed into the file
			os.Remove(db + "-wal")
			os.Remove(db + "-shm")
			d.do(t, db)
			before := sum(t, db)
			commands := [][]string{
				{"stats", "-index", idx},
				{"engage", "-index", idx, "-user", "u", "-action", "like", ids[0]},
				{"similar", "-index", idx, "-rank", "hybrid", ids[1]},
			}
			r := pinrecRun(t, nil, commands[i%len(commands)]...)
			o := outcome{note: commands[i%len(commands)][0]}
			if !clear(r, db) {
				o.unclear++
				o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
			}
			if sum(t, db) != before {
				o.corrupt++
				o.fail += " the damaged database was written to"
			}
			return o
		})
	}

	runCase(t, "hostile: read-only index folder", 3, func(t *testing.T, i int) outcome {
		dir := readOnlyDir(t, func(dir string) {
			copyFile(t, f.index, filepath.Join(dir, "pins.pinrec"))
			pinrecOK(t, "engage", "-index", filepath.Join(dir, "pins.pinrec"), "-events", events)
			pinrecOK(t, "stats", "-index", filepath.Join(dir, "pins.pinrec"))
		})
		idx := filepath.Join(dir, "pins.pinrec")
		before := sum(t, idx)
		images := filepath.Join(t.TempDir(), "pins")
		copyImages(t, f, images, 0, 80)
		writeImage(t, filepath.Join(images, "new.png"), 77)
		commands := [][]string{
			indexArgs(idx, images, "-allow-removals"),
			{"build-ann", "-index", idx},
			{"engage", "-index", idx, "-user", "u", "-action", "like", ids[0]},
		}
		r := pinrecRun(t, nil, commands[i]...)
		o := outcome{note: commands[i][0]}
		name := idx
		if commands[i][0] == "engage" {
			name = idx + ".engage.db"
		}
		if !clear(r, name) {
			o.unclear++
			o.fail = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		if sum(t, idx) != before {
			o.corrupt++
		}
		return o
	})

	// Renamed over, as pinrec's own saves and mv do (in place: TestIndexChangedInPlace).
	runCase(t, "hostile: index replaced under serve", 1, func(t *testing.T, i int) outcome {
		dir := t.TempDir()
		idx := filepath.Join(dir, "pins.pinrec")
		copyFile(t, f.index, idx)
		p, base := startServe(t, idx)
		replacement := filepath.Join(dir, "other.pinrec")
		if i == 0 {
			makeIndex(t, replacement, 10, 768) // another index, renamed over it
			require.NoError(t, os.Rename(replacement, idx))
		} else {
			require.NoError(t, os.WriteFile(idx, []byte("not an index any more"), 0o644)) // overwritten in place
		}
		after := sum(t, idx)
		o := outcome{note: []string{"renamed over", "overwritten in place"}[i]}
		for _, id := range ids[:10] {
			resp, err := client.Get(base + "/api/similar/" + id + "?k=5")
			if err != nil || resp.StatusCode != http.StatusOK {
				o.fail = fmt.Sprintf("similar %s after the replacement: %v %v", id, err, resp)
				break
			}
			resp.Body.Close()
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			o.fail += " serve did not stop"
		}
		if strings.Contains(p.output(), "panic:") {
			o.fail += " serve panicked"
		}
		if sum(t, idx) != after {
			o.corrupt++
			o.fail += " serve wrote over the replaced file"
		}
		return o
	})
}

// readOnlyDir returns a folder prepared by fill and then made read-only: a tmpfs remounted
// read-only (root ignores permission bits), or mode 0555 where mounting is impossible.
func readOnlyDir(t *testing.T, fill func(dir string)) string {
	t.Helper()
	if canMount {
		dir := filepath.Join(t.TempDir(), "ro")
		require.NoError(t, os.Mkdir(dir, 0o755))
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput()
		require.NoError(t, err, "mount: %s", out)
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
		fill(dir)
		out, err = exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput()
		require.NoError(t, err, "remount: %s", out)
		return dir
	}
	dir := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(dir, 0o755))
	fill(dir)
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	return dir
}
