package pinrec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSavePermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.idx")
	ix := persistIndex(t, 3, 2, 1)
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Chmod(path, 0o640))
	require.NoError(t, ix.Save(path))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, fs.FileMode(0o640), fi.Mode().Perm())
	}
	err = ix.Save(filepath.Join(dir, "missing", "p.idx"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), filepath.Join(dir, "missing", "p.idx"))
}

// errInjected is the failure the fault-injecting file system returns.
var errInjected = errors.New("injected failure")

// faultFS is the real file system with one step made to fail.
type faultFS struct {
	osFS
	stage   string // "create", "write", "short-write", "sync", "close", "rename", "syncdir"
	after   int64  // for write stages: how many bytes succeed first
	renamed bool
}

type faultFile struct {
	saveFile
	fs      *faultFS
	written int64
}

func (f *faultFS) createTemp(dir, target string) (saveFile, error) {
	if f.stage == "create" {
		return nil, errInjected
	}
	sf, err := f.osFS.createTemp(dir, target)
	if err != nil {
		return nil, err
	}
	return &faultFile{saveFile: sf, fs: f}, nil
}

func (f *faultFS) rename(oldpath, newpath string) error {
	if f.stage == "rename" {
		return errInjected
	}
	f.renamed = true
	return f.osFS.rename(oldpath, newpath)
}

func (f *faultFS) syncDir(dir string) error {
	if f.stage == "syncdir" {
		return errInjected
	}
	return f.osFS.syncDir(dir)
}

func (f *faultFile) Write(b []byte) (int, error) {
	if (f.fs.stage == "write" || f.fs.stage == "short-write") && f.written+int64(len(b)) > f.fs.after {
		n, err := f.saveFile.Write(b[:f.fs.after-f.written])
		f.written += int64(n)
		if err == nil && f.fs.stage == "write" {
			err = errInjected
		}
		return n, err
	}
	n, err := f.saveFile.Write(b)
	f.written += int64(n)
	return n, err
}

func (f *faultFile) Sync() error {
	if f.fs.stage == "sync" {
		return errInjected
	}
	return f.saveFile.Sync()
}

func (f *faultFile) Close() error {
	err := f.saveFile.Close()
	if f.fs.stage == "close" {
		return errInjected
	}
	return err
}

// TestSaveAtomicUnderFaults makes each step of Save fail in turn, over an existing index file:
// the error names the file and the step's error, no temporary file is left, and the file still
// holds the previous index (or, once the rename is done, the new one), complete.
func TestSaveAtomicUnderFaults(t *testing.T) {
	old := persistIndex(t, 40, 300, 1)
	newer := persistIndex(t, 1000, 300, 2) // vectors span two write chunks
	var enc bytes.Buffer
	_, err := newer.WriteTo(&enc)
	require.NoError(t, err)
	size := int64(enc.Len())
	metaLen := int64(binary.LittleEndian.Uint64(enc.Bytes()[24:]))
	vecOff := int64(binary.LittleEndian.Uint64(enc.Bytes()[32:]))
	type step struct {
		stage string
		after int64
	}
	steps := []step{{"create", 0}, {"sync", 0}, {"close", 0}, {"rename", 0}, {"syncdir", 0}}
	for _, after := range []int64{0, 1, 63, 64, 64 + metaLen/2, 64 + metaLen + 2, vecOff - 1, vecOff, vecOff + 4000,
		vecOff + ioChunk + 3, size - 5, size - 4, size - 1} {
		require.Less(t, after, size)
		steps = append(steps, step{"write", after}, step{"short-write", after})
	}
	for _, st := range steps {
		t.Run(fmt.Sprintf("%s@%d", st.stage, st.after), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pins.idx")
			require.NoError(t, old.Save(path))
			fsys := &faultFS{stage: st.stage, after: st.after}
			err := newer.save(fsys, path, flatLayout, nil)
			require.Error(t, err)
			err = fmt.Errorf("save %s: %w", path, err) // as Save wraps it
			if st.stage == "short-write" {
				require.ErrorIs(t, err, io.ErrShortWrite)
			} else {
				require.ErrorIs(t, err, errInjected)
			}

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "a temporary file was left behind")
			require.Equal(t, "pins.idx", entries[0].Name())

			got, err := Load(path)
			require.NoError(t, err)
			if fsys.renamed {
				requireSameIndex(t, newer, got)
			} else {
				requireSameIndex(t, old, got)
			}
		})
	}
}

// TestSaveFailsWhenTargetIsADirectory: the rename fails for real, and the temp file goes.
func TestSaveFailsWhenTargetIsADirectory(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "idx")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(target, "keep"), nil, 0o644))
	err := persistIndex(t, 3, 2, 1).Save(target)
	require.Error(t, err)
	require.Contains(t, err.Error(), target)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// persistChildEnv selects the child process of the kill tests.
const persistChildEnv = "PINREC_TEST_SAVE_CHILD"

// pausingFS lets a save run until half its bytes are written, then tells the parent and
// hangs there, so that the parent kills it mid-write.
type pausingFS struct {
	osFS
	half int64
}

type pausingFile struct {
	saveFile
	half, written int64
}

func (p pausingFS) createTemp(dir, target string) (saveFile, error) {
	f, err := p.osFS.createTemp(dir, target)
	if err != nil {
		return nil, err
	}
	return &pausingFile{saveFile: f, half: p.half}, nil
}

func (f *pausingFile) Write(b []byte) (int, error) {
	n, err := f.saveFile.Write(b)
	f.written += int64(n)
	if f.written >= f.half {
		fmt.Printf("midway %s %d\n", f.Name(), f.written)
		os.Stdout.Sync()
		time.Sleep(time.Hour)
	}
	return n, err
}

// persistChild runs the child half of the kill tests, in a re-executed test binary.
func persistChild(t *testing.T) {
	path := os.Getenv(persistChildEnv)
	switch os.Getenv(persistChildEnv + "_MODE") {
	case "midway":
		ix := persistIndex(t, 4096, 2048, 99) // 32 MiB
		size := int64(len(ix.vectors)) * 4
		err := ix.save(pausingFS{half: size / 2}, path, flatLayout, nil)
		t.Fatalf("save returned %v instead of being killed", err)
	case "loop":
		a, b := persistIndex(t, 1024, 2048, 5), persistIndex(t, 1300, 2048, 6)
		for i := 0; ; i++ {
			require.NoError(t, []*Index{a, b}[i%2].Save(path))
			fmt.Printf("saved %d\n", i)
		}
	}
	t.Fatal("unknown child mode")
}

// startPersistChild re-executes the test binary as a child running mode, and returns it with
// the lines of its standard output.
func startPersistChild(t *testing.T, test, path, mode string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), persistChildEnv+"="+path, persistChildEnv+"_MODE="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, lines
}

// waitLine returns the next line with the prefix, failing after a minute.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the child exited before printing %q", prefix)
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q from the child in a minute", prefix)
		}
	}
}

// TestSaveKilledMidway kills a process in the middle of writing a 32 MiB index over an
// existing one: the old file loads intact, the leftover temporary file is refused as
// truncated, and a later Save replaces the file.
func TestSaveKilledMidway(t *testing.T) {
	if os.Getenv(persistChildEnv) != "" {
		persistChild(t)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pins.idx")
	old := persistIndex(t, 100, 2048, 1)
	require.NoError(t, old.Save(path))

	cmd, lines := startPersistChild(t, "TestSaveKilledMidway", path, "midway")
	var tmp string
	var written int64
	_, err := fmt.Sscanf(waitLine(t, lines, "midway "), "midway %s %d", &tmp, &written)
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	fi, err := os.Stat(tmp)
	require.NoError(t, err, "the partial temporary file")
	require.GreaterOrEqual(t, fi.Size(), written/2)
	require.Equal(t, filepath.Dir(path), filepath.Dir(tmp), "the temporary file is in the target's directory")

	got, err := Load(path)
	require.NoError(t, err)
	requireSameIndex(t, old, got)
	got, err = Load(path, WithMmap())
	require.NoError(t, err)
	requireSameIndex(t, old, got)
	require.NoError(t, got.Close())

	_, err = Load(tmp)
	require.ErrorIs(t, err, ErrBadFormat)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	newer := persistIndex(t, 50, 2048, 2)
	require.NoError(t, newer.Save(path))
	got, err = Load(path)
	require.NoError(t, err)
	requireSameIndex(t, newer, got)
}

// TestSaveKilledAtRandom kills a process that saves two indexes in turn with the plain Save, at
// random moments: the file always loads as one of the two, complete.
func TestSaveKilledAtRandom(t *testing.T) {
	if os.Getenv(persistChildEnv) != "" {
		persistChild(t)
		return
	}
	a, b := persistIndex(t, 1024, 2048, 5), persistIndex(t, 1300, 2048, 6)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "pins.idx")
		cmd, lines := startPersistChild(t, "TestSaveKilledAtRandom", path, "loop")
		waitLine(t, lines, "saved ")
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".pins.idx.tmp-*")); len(tmps) > 0 {
			t.Logf("round %d: killed during a save (%s left behind)", round, filepath.Base(tmps[0]))
		}
		got, err := Load(path)
		require.NoError(t, err, "round %d", round)
		if got.Len() == a.Len() {
			requireSameIndex(t, a, got)
		} else {
			requireSameIndex(t, b, got)
		}
	}
}

// TestSaveWhileChanging saves and loads while other goroutines add and search (run it with
// -race): every file is a consistent snapshot.
func TestSaveWhileChanging(t *testing.T) {
	ix := persistIndex(t, 200, 16, 3)
	path := filepath.Join(t.TempDir(), "c.idx")
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := make([]float32, 16)
			v[i%16] = float32(i)
			assert.NoError(t, ix.Add(Item{ID: fmt.Sprintf("new%d", i), Vector: v}))
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := ix.Search(ctx, make([]float32, 16), 3)
			assert.NoError(t, err)
		}
	}()
	for range 20 {
		require.NoError(t, ix.Save(path))
		got, err := Load(path)
		require.NoError(t, err)
		require.GreaterOrEqual(t, got.Len(), 200)
	}
	close(stop)
	wg.Wait()
}
