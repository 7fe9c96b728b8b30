//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"pinrec"
	_ "pinrec/ann" // pinrec.Open reads build-ann's files
)

// long selects the long cases (make bench-faults): 20+ trials per kill case. The fast set
// (make test-faults) runs a few of each.
var long = flag.Bool("long", false, "run every case with its long number of trials")

var (
	bin      string // the pinrec binary under test
	fsMode   string // "tmpfs" or "fsize" (see smallFS)
	canMount bool   // a tmpfs can be mounted (read-only folders, whatever fsMode)
	ledger   []row
	ledgerM  sync.Mutex
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "pinrec-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin = os.Getenv("PINREC_BIN")
	if bin == "" {
		bin = filepath.Join(tmp, "pinrec")
		build := exec.Command("go", "build", "-o", bin, "pinrec/examples/cli")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "faults: building the pinrec binary:", err)
			return 1
		}
	}
	fsMode = probeMount(tmp)
	canMount = fsMode == "tmpfs"
	if os.Getenv("FAULTS_FS") == "fsize" { // the fallback, where mounting works too
		fsMode = "fsize"
	}
	fmt.Fprintf(os.Stderr, "faults: binary %s; full disks: %s\n", bin, fsModeText())
	code := m.Run()
	printTable(os.Stdout)
	return code
}

// --- the table ---

// row is one case of the table. The long run of the cluster cases (weaviate/internal/chaos)
// appends its rows to the file named by FAULTS_LEDGER, which this package prints too.
type row struct {
	Case          string `json:"case"`
	Trials        int    `json:"trials"`
	Passed        int    `json:"passed"`
	AckedLost     int    `json:"acked_lost"`
	CorruptAfter  int    `json:"corrupt_after"`
	UnclearErrors int    `json:"unclear_errors"`
	Note          string `json:"note"`
}

// outcome is what one trial found.
type outcome struct {
	ackedLost, corrupt, unclear int
	fail                        string // why the trial failed, if it did
	note                        string // where the fault landed
}

// runCase runs trials of one case and adds its row to the table; every trial must pass.
func runCase(t *testing.T, name string, trials int, trial func(t *testing.T, i int) outcome) {
	t.Helper()
	r := row{Case: name, Trials: trials}
	notes := map[string]int{}
	for i := range trials {
		o := trial(t, i)
		r.AckedLost += o.ackedLost
		r.CorruptAfter += o.corrupt
		r.UnclearErrors += o.unclear
		if o.fail == "" && o.ackedLost == 0 && o.corrupt == 0 && o.unclear == 0 {
			r.Passed++
		} else {
			t.Errorf("%s trial %d: %s (acked lost %d, corrupt %d, unclear %d)", name, i, o.fail, o.ackedLost, o.corrupt, o.unclear)
		}
		if o.note != "" {
			notes[o.note]++
		}
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range notes {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s %d", k, notes[k]))
	}
	r.Note = strings.Join(parts, ", ")
	ledgerM.Lock()
	ledger = append(ledger, r)
	ledgerM.Unlock()
}

func printTable(w io.Writer) {
	rows := readLedgerFile()
	rows = append(rows, ledger...)
	fmt.Fprintf(w, "\n%-34s %6s %6s %10s %13s %14s  %s\n", "case", "trials", "passed", "acked_lost", "corrupt_after", "unclear_errors", "where the faults landed")
	var total row
	for _, r := range rows {
		fmt.Fprintf(w, "%-34s %6d %6d %10d %13d %14d  %s\n", r.Case, r.Trials, r.Passed, r.AckedLost, r.CorruptAfter, r.UnclearErrors, r.Note)
		total.Trials += r.Trials
		total.AckedLost += r.AckedLost
		total.CorruptAfter += r.CorruptAfter
		total.UnclearErrors += r.UnclearErrors
	}
	fmt.Fprintf(w, "full disks: %s\n", fsModeText())
	fmt.Fprintf(w, "cpu=%s\n", cpuModel())
	fmt.Fprintf(w, "faults_cases=%d\nfaults_trials=%d\nfaults_acked_lost=%d\nfaults_corrupt_after=%d\nfaults_unclear_errors=%d\n",
		len(rows), total.Trials, total.AckedLost, total.CorruptAfter, total.UnclearErrors)
}

// readLedgerFile reads the rows other test binaries appended to FAULTS_LEDGER.
func readLedgerFile() []row {
	path := os.Getenv("FAULTS_LEDGER")
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var rows []row
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r row
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Case != "" {
			rows = append(rows, r)
		}
	}
	return rows
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

// --- running the binary ---

// result is one finished run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// pinrecRun runs the binary to its end (bounded by 5 minutes).
func pinrecRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "running pinrec %v: %v", args, err)
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// pinrecOK runs the binary and requires success.
func pinrecOK(t *testing.T, args ...string) result {
	t.Helper()
	r := pinrecRun(t, nil, args...)
	require.Equal(t, 0, r.code, "pinrec %v: %s", args, r.stderr)
	return r
}

// proc is a running pinrec whose output is collected.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

func pinrecStart(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = lockedWriter{p}
	p.cmd.Stderr = lockedWriter{p}
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

// output is what the process wrote so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL and waits for the process to be gone; it reports whether the process was
// still running (the kill landed) or had already ended.
func (p *proc) kill() bool {
	select {
	case <-p.done:
		return false
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// --- errors ---

// clear reports whether a failed run's message is clear: one line per error naming each of
// names, without a Go panic or a stack trace.
func clear(r result, names ...string) bool {
	if r.code == 0 || strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		return false
	}
	for _, n := range names {
		if !strings.Contains(r.stderr, n) {
			return false
		}
	}
	return true
}

// --- files ---

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

// vectors is an index's content: ID -> vector.
type vectors map[string][]float32

// readIndex opens an index file of any kind and returns its vectors; an error means it did
// not open, or held the same ID twice.
func readIndex(path string) (vectors, error) {
	st, err := pinrec.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := vectors{}
	for _, id := range st.IDs() {
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("%s: ID %q twice", path, id)
		}
		it, err := st.Get(id)
		if err != nil {
			return nil, err
		}
		out[id] = it.Vector
	}
	if len(out) != st.Len() {
		return nil, fmt.Errorf("%s: %d IDs listed, Len %d", path, len(out), st.Len())
	}
	return out, nil
}

// consistentWith returns "" when every item of got is in one of the oracles with its vector,
// or what is wrong.
func consistentWith(got vectors, oracles ...vectors) string {
	for id, v := range got {
		ok := false
		for _, o := range oracles {
			if w, in := o[id]; in && slices.Equal(v, w) {
				ok = true
			}
		}
		if !ok {
			return fmt.Sprintf("item %q is in no clean run, or has another vector", id)
		}
	}
	return ""
}

func equalVectors(a, b vectors) bool {
	if len(a) != len(b) {
		return false
	}
	for id, v := range a {
		if !slices.Equal(v, b[id]) {
			return false
		}
	}
	return true
}

// leftovers lists the temporary files of interrupted saves in dir.
func leftovers(dir string) []string {
	var out []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

// --- images ---

// writeImages writes n distinct 32x32 PNGs named %03d.png into dir, from seed.
func writeImages(t *testing.T, dir string, n int, seed uint64) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i := range n {
		writeImage(t, filepath.Join(dir, fmt.Sprintf("%03d.png", i)), seed+uint64(i))
	}
}

func writeImage(t *testing.T, path string, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	base := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	for y := range 32 {
		for x := range 32 {
			n := func(v uint8) uint8 { return uint8(max(0, min(255, int(v)+r.IntN(81)-40))) }
			img.Set(x, y, color.RGBA{n(base.R), n(base.G), n(base.B), 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// index runs pinrec index with the raw-pixel embedding (no model: fast and exact).
func indexArgs(indexPath, dir string, extra ...string) []string {
	return append(append([]string{"index", "-embedding", "pixels", "-index", indexPath}, extra...), dir)
}

// randomDelay is a uniformly random duration in [0, d).
func randomDelay(r *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(d)))
}

// trials is n in the fast set, long in the long one.
func trials(fast, longN int) int {
	if *long {
		return longN
	}
	return fast
}
