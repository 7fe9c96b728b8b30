//go:build faults

package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/weaviate"
)

// The cluster's hard cases (make bench-faults): node 0 killed, two of three killed, all three
// killed and restarted, on a 3-node cluster that TestMain starts through tools/weaviate.sh
// and always stops. Each case appends a row to the fault suite's table (FAULTS_LEDGER).

var cluster struct {
	dir   string
	hosts []string
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pinrec-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster.dir = dir
	out, err := script(10*time.Minute, "start", "3", dir)
	defer script(time.Minute, "stop", dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start weaviate cluster: %v\n%s\n", err, out)
		return 1
	}
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
	return m.Run()
}

func script(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("..", "..", "..", "tools", "weaviate.sh"), args...)
	cmd.Env = append(os.Environ(), "WEAVIATE_WATCH_PID="+strconv.Itoa(os.Getpid()))
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func kill(t *testing.T, node int) {
	t.Helper()
	out, err := script(time.Minute, "kill", strconv.Itoa(node), cluster.dir)
	require.NoError(t, err, out)
}

// restart restarts the given nodes together (a node waits for the others to be healthy).
func restart(t *testing.T, nodes ...int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	outs := make([]string, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { outs[i], errs[i] = script(8*time.Minute, "restart", strconv.Itoa(n), cluster.dir) })
	}
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i], "restart node %d: %s", nodes[i], outs[i])
	}
}

// url names a fresh collection through the given nodes.
func url(name string, nodes ...int) string {
	var hosts []string
	for _, n := range nodes {
		hosts = append(hosts, cluster.hosts[n])
	}
	return "weaviate://" + strings.Join(hosts, ",") + "/" + name
}

type row struct {
	Case          string `json:"case"`
	Trials        int    `json:"trials"`
	Passed        int    `json:"passed"`
	AckedLost     int    `json:"acked_lost"`
	CorruptAfter  int    `json:"corrupt_after"`
	UnclearErrors int    `json:"unclear_errors"`
	Note          string `json:"note"`
}

// record appends r to FAULTS_LEDGER (and the test log).
func record(t *testing.T, r row) {
	t.Helper()
	b, _ := json.Marshal(r)
	t.Logf("%s", b)
	if path := os.Getenv("FAULTS_LEDGER"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, err = f.Write(append(b, '\n'))
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
}

// clusterTrials is how many times each hard case runs (each trial kills and restarts nodes).
const clusterTrials = 3

// trials runs a case clusterTrials times and records one row for them all; the trials'
// notes are joined with " | ".
func trials(t *testing.T, name string, trial func(t *testing.T, i int) row) {
	t.Helper()
	total := row{Case: name}
	var notes []string
	for i := range clusterTrials {
		r := trial(t, i)
		total.Trials++
		total.Passed += r.Passed
		total.AckedLost += r.AckedLost
		total.CorruptAfter += r.CorruptAfter
		total.UnclearErrors += r.UnclearErrors
		notes = append(notes, r.Note)
	}
	total.Note = strings.Join(notes, " | ")
	record(t, total)
}

const dim = 16

func items(prefix string, n int, seed uint64) []pinrec.Item {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]pinrec.Item, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		out[i] = pinrec.Item{ID: fmt.Sprintf("%s/%04d", prefix, i), Vector: v}
	}
	return out
}

// lostAtAll counts the items not read back identical at consistency ALL.
func lostAtAll(ctx context.Context, t *testing.T, name string, acked []pinrec.Item) int {
	t.Helper()
	verify, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithConsistency(weaviate.All),
		weaviate.WithTimeout(10*time.Second), weaviate.WithRetries(10, 200*time.Millisecond, 3*time.Second))
	require.NoError(t, err)
	defer verify.Close()
	lost := 0
	for _, it := range acked {
		got, err := verify.GetContext(ctx, it.ID)
		if err != nil || !slices.Equal(got.Vector, it.Vector) {
			lost++
			t.Logf("acknowledged %s: %v", it.ID, err)
		}
	}
	return lost
}

// TestNodeZeroKill: node 0 (the one the others joined) is killed -9 in the middle of searches
// at ONE and writes at QUORUM, then restarted: the scenario of Run with node 0 as the victim.
func TestNodeZeroKill(t *testing.T) { trials(t, "cluster: kill -9 node 0", nodeZeroTrial) }

func nodeZeroTrial(t *testing.T, i int) row {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	name := fmt.Sprintf("FaultsNodeZero%d", i)
	setup, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithDim(dim), weaviate.WithReplication(3))
	require.NoError(t, err)
	defer setup.Drop(context.Background())
	base := items("base", 200, 1)
	require.NoError(t, setup.Add(base...))
	var queries [][]float32
	for _, it := range base {
		queries = append(queries, it.Vector)
	}
	reader, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithReadConsistency(weaviate.One),
		weaviate.WithTimeout(3*time.Second), weaviate.WithRetries(20, 50*time.Millisecond, time.Second))
	require.NoError(t, err)
	writer, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithWriteConsistency(weaviate.Quorum),
		weaviate.WithTimeout(5*time.Second), weaviate.WithRetries(20, 100*time.Millisecond, 2*time.Second))
	require.NoError(t, err)
	verify, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithConsistency(weaviate.All),
		weaviate.WithTimeout(10*time.Second), weaviate.WithRetries(10, 200*time.Millisecond, 3*time.Second))
	require.NoError(t, err)
	rep, err := Run(ctx, Config{
		Reader: reader, Writer: writer, Verify: verify,
		Queries: queries, Searches: 240, K: 10, KillAfter: 60,
		WriteBatch: 10, MaxWrites: 60, Dim: dim, KilledNode: "weaviate-0",
		Kill:    func() error { kill(t, 0); return nil },
		Restart: func() error { restart(t, 0); return nil },
		Logf:    t.Logf,
	})
	require.NoError(t, err)
	t.Logf("%+v", rep)
	r := row{Case: "cluster: kill -9 node 0", Trials: 1, AckedLost: rep.LostItems,
		Note: fmt.Sprintf("%d searches (%d failed, %d while down), %d write batches (%d while down, %d items not acked)",
			rep.Searches, rep.FailedSearches, rep.SearchesWhileDown, rep.WriteBatches, rep.WritesWhileDown, rep.FailedItems)}
	if rep.LostItems == 0 && rep.FailedSearches == 0 && rep.MissingOnNodeAfter == 0 {
		r.Passed = 1
	}
	assert.Zero(t, rep.LostItems, "acknowledged writes read at ALL: %v", rep.FirstErrors)
	assert.Zero(t, rep.FailedSearches, "searches at ONE while node 0 was down: %v", rep.FirstErrors)
	assert.Zero(t, rep.MissingOnNodeAfter)
	return r
}

// TestTwoOfThreeKilled: with nodes 1 and 2 killed, writes at QUORUM fail with a clear error and
// none is acknowledged, reads at ONE go on from node 0; after both restart, every write
// acknowledged before is there at ALL.
func TestTwoOfThreeKilled(t *testing.T) { trials(t, "cluster: kill -9 two of three", twoKilledTrial) }

func twoKilledTrial(t *testing.T, i int) row {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	name := fmt.Sprintf("FaultsTwoKilled%d", i)
	setup, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithDim(dim), weaviate.WithReplication(3))
	require.NoError(t, err)
	defer setup.Drop(context.Background())
	acked := items("before", 300, 2)
	require.NoError(t, setup.Add(acked...))

	// Opened before the kill: with two nodes down the schema (Raft) has no majority, and
	// opening a store, which reads it, times out.
	writer, err := weaviate.Open(ctx, url(name, 0), weaviate.WithWriteConsistency(weaviate.Quorum),
		weaviate.WithTimeout(5*time.Second), weaviate.WithRetries(3, 200*time.Millisecond, time.Second))
	require.NoError(t, err)
	reader, err := weaviate.Open(ctx, url(name, 0), weaviate.WithReadConsistency(weaviate.One),
		weaviate.WithTimeout(5*time.Second), weaviate.WithRetries(5, 100*time.Millisecond, time.Second))
	require.NoError(t, err)
	kill(t, 1)
	kill(t, 2)
	restarted := false
	defer func() {
		if !restarted { // the test failed early: the next one needs the whole cluster
			restart(t, 1, 2)
		}
	}()

	// Wait (bounded) until the survivor has noticed: a write in the first seconds may hang.
	const writes = 10
	var wAcked, wUnclear int
	var firstErr string
	var firstTook, restTook time.Duration // the first write's time; the longest of the others
	during := items("during", writes*5, 3)
	for b := range writes {
		start := time.Now()
		err := writer.AddContext(ctx, during[b*5:(b+1)*5]...)
		took := time.Since(start)
		if b == 0 {
			firstTook = took
		} else {
			restTook = max(restTook, took)
		}
		t.Logf("QUORUM write %d with 2 of 3 nodes down: %.2f s: %v", b, took.Seconds(), err)
		switch {
		case err == nil:
			wAcked += 5
		case !clearQuorumError(err):
			wUnclear++
			fallthrough
		default:
			if firstErr == "" {
				firstErr = err.Error()
			}
		}
	}
	t.Logf("QUORUM writes with 2 of 3 nodes down: %d items acknowledged; first error: %s", wAcked, firstErr)
	searches, failed := 40, 0
	for i := range searches {
		res, err := reader.Search(ctx, acked[i].Vector, 5)
		if err != nil || len(res) != 5 || res[0].ID != acked[i].ID {
			failed++
			t.Logf("search %d at ONE on the survivor: %v", i, err)
		}
	}
	restart(t, 1, 2)
	restarted = true
	lost := lostAtAll(ctx, t, name, acked)
	r := row{Case: "cluster: kill -9 two of three", Trials: 1, AckedLost: lost, UnclearErrors: wUnclear,
		Note: fmt.Sprintf("QUORUM writes: %d of %d items acked, %d of %d writes refused with ErrQuorumUnreachable (the first in %.1f s, the others in %.2f s or less); ONE searches on the survivor: %d/%d answered",
			wAcked, writes*5, writes-wAcked/5-wUnclear, writes, firstTook.Seconds(), restTook.Seconds(), searches-failed, searches)}
	if lost == 0 && wAcked == 0 && wUnclear == 0 && failed == 0 {
		r.Passed = 1
	}
	assert.Zero(t, wAcked, "no QUORUM write may be acknowledged with 2 of 3 nodes down")
	assert.Zero(t, wUnclear, "QUORUM write errors: %s", firstErr)
	assert.Zero(t, failed, "searches at ONE on the survivor")
	assert.Zero(t, lost)
	return r
}

// clearQuorumError: the write was refused as unreachable at QUORUM (not merely timed out),
// and the message names the level, the replicas needed and both nodes that are down.
func clearQuorumError(err error) bool {
	msg := err.Error()
	if !errors.Is(err, weaviate.ErrQuorumUnreachable) {
		return false
	}
	for _, w := range []string{"QUORUM", "needs 2 of the collection's 3 replicas", "weaviate-1", "weaviate-2"} {
		if !strings.Contains(msg, w) {
			return false
		}
	}
	return true
}

// TestAllThreeRestarted: all three nodes killed -9 and restarted together; every write
// acknowledged at QUORUM before is there at ALL, and writes go on.
func TestAllThreeRestarted(t *testing.T) {
	trials(t, "cluster: kill -9 all three, restart", allThreeTrial)
}

func allThreeTrial(t *testing.T, i int) row {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	name := fmt.Sprintf("FaultsAllRestarted%d", i)
	setup, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithDim(dim), weaviate.WithReplication(3),
		weaviate.WithWriteConsistency(weaviate.Quorum))
	require.NoError(t, err)
	defer setup.Drop(context.Background())
	acked := items("before", 500, 4)
	require.NoError(t, setup.Add(acked...))
	for n := range 3 {
		kill(t, n)
	}
	restart(t, 0, 1, 2)
	lost := lostAtAll(ctx, t, name, acked)
	after := items("after", 20, 5)
	w, err := weaviate.Open(ctx, url(name, 0, 1, 2), weaviate.WithWriteConsistency(weaviate.Quorum),
		weaviate.WithTimeout(10*time.Second), weaviate.WithRetries(20, 200*time.Millisecond, 3*time.Second))
	require.NoError(t, err)
	werr := w.AddContext(ctx, after...)
	r := row{Case: "cluster: kill -9 all three, restart", Trials: 1, AckedLost: lost,
		Note: fmt.Sprintf("%d acked items read at ALL after the restart; a write after it: %v", len(acked)-lost, werr)}
	if lost == 0 && werr == nil {
		r.Passed = 1
	}
	assert.Zero(t, lost)
	assert.NoError(t, werr)
	return r
}
