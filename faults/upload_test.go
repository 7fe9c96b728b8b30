//go:build faults

package faults

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDiskFullUpload: serve writes each upload to a temporary file (TMPDIR) while it decodes
// it. On a full disk the upload gets a server error naming the file and the reason, not a
// client error; nothing is left behind; serve goes on, and the same upload succeeds once there
// is space.
func TestDiskFullUpload(t *testing.T) {
	f := getFixture(t)
	body, ctype := uploadBody(t)
	rng := rand.New(rand.NewPCG(22, 3))
	runCase(t, "disk full: serve upload", trials(2, 10), func(t *testing.T, i int) outcome {
		disk := smallFS(t, 4<<20)
		idx := filepath.Join(t.TempDir(), "pins.pinrec")
		copyFile(t, f.index, idx)
		room := rng.Int64N(int64(len(body)) / 2)
		if fsMode == "fsize" { // the limit holds for serve's engagement database too: room for it
			room = 150<<10 + rng.Int64N(150<<10)
		}
		full := fill(t, disk, room)
		p, base := startServeIn(t, idx, disk, full.room)
		o := outcome{note: "upload failed"}
		code, msg := upload(base, body, ctype)
		if code < 500 || !strings.Contains(msg, noSpace()) || !strings.Contains(msg, disk) {
			o.unclear++
			o.fail = fmt.Sprintf("upload on a full disk: %d %q", code, msg)
		}
		if l, _ := filepath.Glob(filepath.Join(disk, "pinrec-upload-*")); len(l) > 0 {
			o.fail += fmt.Sprintf(" uploads left behind: %v", l)
		}
		full.release()
		if fsMode != "tmpfs" { // the limit is the process's: serve again without it
			p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
			p, base = startServeIn(t, idx, disk, -1)
		}
		if code, msg := upload(base, body, ctype); code != http.StatusOK {
			o.fail += fmt.Sprintf(" the upload once there is space: %d %q", code, msg)
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
		return o
	})
}

// startServeIn starts serve with TMPDIR=tmp, under a file-size limit of limit bytes in the
// fsize mode (limit >= 0).
func startServeIn(t *testing.T, idx, tmp string, limit int64) (*proc, string) {
	t.Helper()
	args := []string{"serve", "-index", idx, "-addr", "127.0.0.1:0"}
	p := &proc{done: make(chan struct{})}
	if fsMode == "fsize" && limit >= 0 {
		p.cmd = exec.Command("prlimit", append([]string{"--fsize=" + strconv.FormatInt(limit, 10), bin}, args...)...)
	} else {
		p.cmd = exec.Command(bin, args...)
	}
	p.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
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

// uploadBody is a multipart body holding a 360x360 noise PNG (about 390 KB) in "image".
func uploadBody(t *testing.T) ([]byte, string) {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	img := image.NewRGBA(image.Rect(0, 0, 360, 360))
	for y := range 360 {
		for x := range 360 {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
		}
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile("image", "query.png")
	require.NoError(t, err)
	require.NoError(t, png.Encode(w, img))
	require.NoError(t, mw.Close())
	return b.Bytes(), mw.FormDataContentType()
}

// upload posts body to /api/query and returns the status and the answer's text.
func upload(base string, body []byte, ctype string) (int, string) {
	resp, err := client.Post(base+"/api/query?k=3", ctype, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
