package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// weaviateScript runs tools/weaviate.sh; the cluster it starts is stopped by the test, or by
// the script's watcher if the test binary dies.
func weaviateScript(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("..", "..", "tools", "weaviate.sh"), args...)
	cmd.Env = append(os.Environ(), "WEAVIATE_WATCH_PID="+strconv.Itoa(os.Getpid()))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "weaviate.sh %v: %s", args, out)
	return string(out)
}

// TestCLIBackend runs the commands with -backend against a one-node Weaviate on 127.0.0.1 and
// checks them against the same commands on a local index file: index, sync, ls, similar,
// query, stats, push and pull. (The backend's own tests use a 3-node cluster.)
func TestCLIBackend(t *testing.T) {
	dir := t.TempDir()
	out := weaviateScript(t, "start", "1", filepath.Join(dir, "cluster"))
	defer weaviateScript(t, "stop", filepath.Join(dir, "cluster"))
	var host string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "WEAVIATE_HTTP="); ok {
			host = v
		}
	}
	require.NotEmpty(t, host, out)
	backend := "weaviate://" + host + "/CliPins"
	local := filepath.Join(dir, "local.pinrec")
	images := filepath.Join(dir, "pins")
	seed := uint64(300)
	for _, class := range []string{"red", "green", "blue"} {
		for i := range 3 {
			writeSynthetic(t, filepath.Join(images, class, fmt.Sprintf("%d.png", i)), classColors[class], seed)
			seed++
		}
	}
	query := filepath.Join(dir, "query.png")
	writeSynthetic(t, query, classColors["green"], 999)

	// both runs a command on the file and on the backend; store is replaced by the flag.
	both := func(args ...string) (file, remote result) {
		t.Helper()
		with := func(flag, value string) []string {
			var a []string
			for _, x := range args {
				if x == "STORE" {
					a = append(a, flag, value)
				} else {
					a = append(a, x)
				}
			}
			return a
		}
		file = cli(t, "", with("-index", local)...)
		remote = cli(t, "", with("-backend", backend)...)
		require.Equal(t, 0, file.code, file.stderr)
		require.Equal(t, 0, remote.code, remote.stderr)
		return file, remote
	}
	sameAnswers := func(file, remote result) {
		t.Helper()
		var a, b answer
		require.NoError(t, json.Unmarshal([]byte(file.stdout), &a), file.stdout)
		require.NoError(t, json.Unmarshal([]byte(remote.stdout), &b), remote.stdout)
		require.Len(t, b.Results, len(a.Results))
		for i := range a.Results {
			assert.Equal(t, a.Results[i].ID, b.Results[i].ID, "rank %d", i+1)
			assert.InDelta(t, a.Results[i].Distance, b.Results[i].Distance, 1e-3)
		}
	}
	sortedLs := func() []string {
		file, remote := both("ls", "STORE")
		f, r := lines(file.stdout), lines(remote.stdout)
		slices.Sort(f)
		slices.Sort(r)
		assert.Equal(t, f, r)
		return r
	}

	file, remote := both("index", "-embedding", "pixels", "STORE", images)
	for _, r := range []result{file, remote} {
		indexed, unchanged, removed, skipped := summary(t, r.stdout)
		assert.Equal(t, []int{9, 0, 0, 0}, []int{indexed, unchanged, removed, skipped})
	}
	assert.Len(t, sortedLs(), 9)
	sameAnswers(both("similar", "STORE", "-k", "5", "-json", "green/1.png"))
	sameAnswers(both("query", "STORE", "-k", "4", "-json", query))

	// Sync: add one, change one, delete one; both stores end alike.
	writeSynthetic(t, filepath.Join(images, "blue", "new.png"), classColors["blue"], 400)
	changed := filepath.Join(images, "red", "1.png")
	writeSynthetic(t, changed, classColors["green"], 401)
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(changed, later, later))
	require.NoError(t, os.Remove(filepath.Join(images, "green", "2.png")))
	file, remote = both("index", "-embedding", "pixels", "STORE", images)
	for _, r := range []result{file, remote} {
		indexed, unchanged, removed, skipped := summary(t, r.stdout)
		assert.Equal(t, []int{2, 7, 1, 0}, []int{indexed, unchanged, removed, skipped})
	}
	ids := sortedLs()
	assert.Contains(t, ids, "blue/new.png")
	assert.NotContains(t, ids, "green/2.png")
	sameAnswers(both("similar", "STORE", "-k", "9", "-json", "red/1.png"))

	// A sync from an empty folder (an unmounted drive) is refused: the collection keeps its items.
	require.NoError(t, os.Rename(images, images+".away"))
	require.NoError(t, os.Mkdir(images, 0o755))
	r := cli(t, "", "index", "-embedding", "pixels", "-backend", backend, images)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "sync refused: "+images+" holds no images")
	require.NoError(t, os.Remove(images))
	require.NoError(t, os.Rename(images+".away", images))
	assert.Equal(t, ids, sortedLs(), "nothing removed from the collection")

	r = cli(t, "", "stats", "-backend", backend, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var st indexStats
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
	assert.Equal(t, "weaviate", st.Kind)
	assert.Equal(t, 9, st.Items)
	assert.Equal(t, 768, st.Dim)
	assert.Equal(t, "l2-squared", st.Store["distance"])

	// pull gives the file's items back, vector for vector; push copies the file to a new collection.
	pulled := filepath.Join(dir, "pulled.pinrec")
	r = cli(t, "", "pull", "-backend", backend, "-index", pulled)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, loadVectors(t, local), loadVectors(t, pulled))
	pushed := "weaviate://" + host + "/CliPushed"
	r = cli(t, "", "push", "-index", local, "-backend", pushed)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "pushed 9 items")
	r = cli(t, "", "ls", "-backend", pushed)
	require.Equal(t, 0, r.code, r.stderr)
	assert.ElementsMatch(t, ids, lines(r.stdout))

	// Errors: two stores named; a server that is not there.
	r = cli(t, "", "ls", "-index", local, "-backend", backend)
	assert.Equal(t, 2, r.code)
	r = cli(t, "", "ls", "-backend", "weaviate://127.0.0.1:1/CliPins?retries=1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "server unreachable")
}
