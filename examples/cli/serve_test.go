package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// served is a running `pinrec serve`.
type served struct {
	cmd   *exec.Cmd
	base  string             // http://127.0.0.1:PORT
	lines chan string        // its stderr, line by line
	done  chan error         // its exit
	log   *strings.Builder   // every stderr line so far (read after done)
	stop  func() (int, bool) // SIGTERM, then the exit status (false if it did not exit in time)
	wait  func() (int, bool) // the exit status (false if it did not exit within a minute)
}

var listening = regexp.MustCompile(` on (http://127\.0\.0\.1:\d+)/ `)

// startServe runs `pinrec serve -addr 127.0.0.1:0 args...` and waits (up to a minute, the
// model load included) for the line that gives its address. The process is killed at the end
// of the test if it is still running.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "PINREC_MODEL="+modelDir, "TF_CPP_MIN_LOG_LEVEL=2")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &served{cmd: cmd, lines: make(chan string, 1024), done: make(chan error, 1), log: &strings.Builder{}}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	s.stop = func() (int, bool) {
		cmd.Process.Signal(syscall.SIGTERM)
		return s.wait()
	}
	s.wait = func() (int, bool) {
		for l := range s.lines {
			s.log.WriteString(l + "\n")
		}
		select {
		case <-s.done:
			return cmd.ProcessState.ExitCode(), true
		case <-time.After(time.Minute):
			return -1, false
		}
	}
	deadline := time.After(time.Minute)
	for s.base == "" {
		select {
		case l, ok := <-s.lines:
			require.True(t, ok, "serve exited before listening: %s", s.log.String())
			s.log.WriteString(l + "\n")
			if m := listening.FindStringSubmatch(l); m != nil {
				s.base = m[1]
			}
		case <-deadline:
			t.Fatalf("serve did not start in a minute: %s", s.log.String())
		}
	}
	return s
}

// waitLine reads serve's stderr until a line contains want (up to 30 seconds).
func (s *served) waitLine(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			require.True(t, ok, "serve exited before printing %q: %s", want, s.log.String())
			s.log.WriteString(l + "\n")
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no line with %q in 30 s: %s", want, s.log.String())
		}
	}
}

func uploadBody(t *testing.T, file string) ([]byte, string) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("image", "query.png")
	require.NoError(t, err)
	w.Write(data)
	require.NoError(t, mw.Close())
	return buf.Bytes(), mw.FormDataContentType()
}

// apiAnswer is the JSON of /api/similar and /api/query.
type apiAnswer struct {
	Query   string `json:"query"`
	Results []struct {
		Rank     int     `json:"rank"`
		ID       string  `json:"id"`
		Distance float32 `json:"distance"`
		URL      string  `json:"url"`
	} `json:"results"`
}

// TestCLIServe: the server's answers are the CLI's (similar and query -json), for an index of
// the model and one of the pixel baseline; SIGTERM ends it with status 0.
func TestCLIServe(t *testing.T) {
	dir, modelIndex, pixelIndex := labelledIndex(t)
	for _, index := range []string{pixelIndex, modelIndex} {
		t.Run(strings.TrimSuffix(index[strings.LastIndex(index, "/")+1:], ".pinrec"), func(t *testing.T) {
			s := startServe(t, "-index", index)
			client := &http.Client{Timeout: time.Minute}
			id := "green/green-2.png"
			want := cli(t, "", "similar", "-json", "-k", "5", "-index", index, id)
			require.Equal(t, 0, want.code, want.stderr)
			var w, g apiAnswer
			require.NoError(t, json.Unmarshal([]byte(want.stdout), &w))
			resp, err := client.Get(s.base + "/api/similar/" + url.PathEscape(id) + "?k=5")
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&g))
			resp.Body.Close()
			require.Len(t, g.Results, 5)
			for i := range w.Results {
				assert.Equal(t, w.Results[i].ID, g.Results[i].ID)
				assert.Equal(t, w.Results[i].Distance, g.Results[i].Distance)
				assert.Equal(t, "/item/"+url.PathEscape(w.Results[i].ID), g.Results[i].URL)
			}

			want = cli(t, "", "query", "-json", "-k", "5", "-index", index, labelled.query)
			require.Equal(t, 0, want.code, want.stderr)
			require.NoError(t, json.Unmarshal([]byte(want.stdout), &w))
			body, ctype := uploadBody(t, labelled.query)
			resp, err = client.Post(s.base+"/api/query?k=5", ctype, bytes.NewReader(body))
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&g))
			resp.Body.Close()
			require.Len(t, g.Results, 5)
			for i := range w.Results {
				assert.Equal(t, w.Results[i].ID, g.Results[i].ID)
				assert.InDelta(t, w.Results[i].Distance, g.Results[i].Distance, 1e-3*float64(w.Results[i].Distance)+1e-4)
			}

			// The image of an item is its file.
			resp, err = client.Get(s.base + "/image/" + url.PathEscape(id))
			require.NoError(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			file, err := os.ReadFile(dir + "/" + id)
			require.NoError(t, err)
			assert.Equal(t, file, got)
			assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))

			code, ok := s.stop()
			require.True(t, ok, "serve did not exit within a minute of SIGTERM")
			assert.Equal(t, 0, code)
			assert.Contains(t, s.log.String(), "GET /api/similar/green%2Fgreen-2.png?k=5 200")
		})
	}
}

// TestCLIServeDrainsOnSIGTERM: a request in flight when SIGTERM arrives is answered in full,
// new connections are refused, and serve exits 0. The request is held open with
// "Expect: 100-continue": the server says "100 Continue" once the handler reads the body, the
// test then sends SIGTERM, waits for serve to say it is stopping, and only then sends the body.
func TestCLIServeDrainsOnSIGTERM(t *testing.T) {
	_, _, pixelIndex := labelledIndex(t)
	s := startServe(t, "-index", pixelIndex)
	body, ctype := uploadBody(t, labelled.query)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))
	fmt.Fprintf(conn, "POST /api/query?k=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", ctype, len(body))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", status)
	_, err = br.ReadString('\n') // the blank line after the interim response
	require.NoError(t, err)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	s.waitLine(t, "stopping after the requests in flight")
	// The listener closes (right after that line): new connections are refused.
	refused := false
	for range 100 {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	assert.True(t, refused, "serve still accepts connections while stopping")
	_, err = conn.Write(body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	var a apiAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Len(t, a.Results, 3)

	// No second signal (that one would end serve at once): it exits by itself.
	code, ok := s.wait()
	require.True(t, ok, "serve did not exit within a minute of SIGTERM")
	assert.Equal(t, 0, code)
	assert.Contains(t, s.log.String(), "POST /api/query?k=3 200")
	assert.Contains(t, s.log.String(), "pinrec serve: stopped")
}

// TestCLIServeAbandonsStalledUpload: an upload whose body never comes does not fail the
// shutdown: after SIGTERM serve waits its grace period, abandons the request, says so, and
// exits 0 (it exited 1, "stopping: context deadline exceeded", before).
func TestCLIServeAbandonsStalledUpload(t *testing.T) {
	_, _, pixelIndex := labelledIndex(t)
	s := startServe(t, "-index", pixelIndex)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	// "Expect: 100-continue": the server says "100 Continue" once the handler reads the body,
	// so the request is in flight; then a few bytes of the body come, and nothing more.
	require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))
	fmt.Fprintf(conn, "POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n")
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", status)
	fmt.Fprintf(conn, "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n\r\n\x89PNG")
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	code, ok := s.wait()
	require.True(t, ok, "serve did not exit within a minute of SIGTERM")
	assert.Equal(t, 0, code, s.log.String())
	assert.Contains(t, s.log.String(), "abandoned")
	assert.Contains(t, s.log.String(), "pinrec serve: stopped")
}

func TestCLIServeUsage(t *testing.T) {
	r := cli(t, "", "serve")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "-index FILE is required")
	r = cli(t, "", "serve", "-index", "x.pinrec", "-max-upload", "0")
	assert.Equal(t, 2, r.code)
	_, _, pixelIndex := labelledIndex(t)
	r = cli(t, "", "serve", "-index", pixelIndex, "-addr", "127.0.0.1:99999")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "invalid port")
	r = cli(t, "", "serve", "-index", "/nonexistent/x.pinrec")
	assert.Equal(t, 1, r.code)
}
