//go:build cluster

package weaviate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of this package run against a real 3-node Weaviate cluster on 127.0.0.1, started
// by TestMain through tools/weaviate.sh (which builds weaviate-server once into .cache) and
// always stopped at the end.
var cluster struct {
	dir   string
	hosts []string // REST host:port of node 0, 1, 2
}

// seq makes collection names unique within a run.
var seq atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pinrec-weaviate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster.dir = dir
	start := time.Now()
	out, err := script(10*time.Minute, "start", "3", dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start weaviate cluster: %v\n%s\n", err, out)
		script(time.Minute, "stop", dir)
		return 1
	}
	defer func() {
		if out, err := script(time.Minute, "stop", dir); err != nil {
			fmt.Fprintf(os.Stderr, "stop weaviate cluster: %v\n%s\n", err, out)
		}
	}()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "WEAVIATE_HTTP="); ok {
			cluster.hosts = strings.Split(v, ",")
		}
	}
	if len(cluster.hosts) != 3 {
		fmt.Fprintf(os.Stderr, "weaviate.sh start printed no 3 hosts:\n%s\n", out)
		return 1
	}
	fmt.Fprintf(os.Stderr, "weaviate: 3 nodes ready in %.1fs at %s\n", time.Since(start).Seconds(), strings.Join(cluster.hosts, ","))
	return m.Run()
}

// script runs tools/weaviate.sh with args and returns its output.
func script(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("..", "tools", "weaviate.sh"), args...)
	cmd.Env = append(os.Environ(), "WEAVIATE_WATCH_PID="+strconv.Itoa(os.Getpid()))
	var b strings.Builder
	cmd.Stdout = &b
	cmd.Stderr = &b
	err := cmd.Run()
	return b.String(), err
}

// clusterURL returns the URL of a fresh collection on the test cluster, listing the given
// nodes (all three when none are given).
func clusterURL(t testing.TB, nodes ...int) string {
	t.Helper()
	if len(nodes) == 0 {
		nodes = []int{0, 1, 2}
	}
	var hosts []string
	for _, n := range nodes {
		hosts = append(hosts, cluster.hosts[n])
	}
	name := fmt.Sprintf("T%s%d", sanitize(t.Name()), seq.Add(1))
	return "weaviate://" + strings.Join(hosts, ",") + "/" + name
}

// sanitize keeps the letters and digits of a test name, for a collection name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}
