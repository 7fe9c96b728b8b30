//go:build cluster

package weaviate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/weaviate"
	"pinrec/weaviate/internal/chaos"
)

// TestNodeKill kills -9 one of the three nodes (replication factor 3) in the middle of a
// bounded stream of searches at consistency ONE and writes at QUORUM, then restarts it.
// Nothing lost means: every write the store acknowledged is read back, identical, at
// consistency ALL (so also at QUORUM: r + w > n), and after those reads (which repair
// replicas) the restarted node's own replica holds it too. Searches must not fail (the store
// moves to another node and retries), and writes keep being acknowledged.
func TestNodeKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const dim, preload = 16, 200
	url := weaviate.ClusterURL(t)
	setup, err := weaviate.Open(ctx, url, weaviate.WithDim(dim), weaviate.WithReplication(3))
	require.NoError(t, err)
	defer setup.Drop(context.Background())
	rng := rand.New(rand.NewPCG(3, 3))
	var items []pinrec.Item
	var queries [][]float32
	for i := range preload {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		items = append(items, pinrec.Item{ID: fmt.Sprintf("base/%d", i), Vector: v})
		queries = append(queries, v)
	}
	require.NoError(t, setup.Add(items...))

	// Short timeouts: a request to the dead node, or one the cluster holds while its failure
	// detector has not yet noticed, is abandoned and sent to the next node.
	reader, err := weaviate.Open(ctx, url, weaviate.WithReadConsistency(weaviate.One),
		weaviate.WithTimeout(3*time.Second), weaviate.WithRetries(20, 50*time.Millisecond, time.Second))
	require.NoError(t, err)
	writer, err := weaviate.Open(ctx, url, weaviate.WithWriteConsistency(weaviate.Quorum),
		weaviate.WithTimeout(5*time.Second), weaviate.WithRetries(20, 100*time.Millisecond, 2*time.Second))
	require.NoError(t, err)
	verify, err := weaviate.Open(ctx, url, weaviate.WithConsistency(weaviate.All))
	require.NoError(t, err)

	const victim = 2
	rep, err := chaos.Run(ctx, chaos.Config{
		Reader: reader, Writer: writer, Verify: verify,
		Queries: queries, Searches: 240, K: 10, KillAfter: 60,
		WriteBatch: 10, MaxWrites: 60, Dim: dim,
		KilledNode: fmt.Sprintf("weaviate-%d", victim),
		Kill: func() error {
			out, err := weaviate.ClusterScript("kill", fmt.Sprint(victim), weaviate.ClusterDir())
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		},
		Restart: func() error {
			out, err := weaviate.ClusterScript("restart", fmt.Sprint(victim), weaviate.ClusterDir())
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		},
		Logf: t.Logf,
	})
	require.NoError(t, err)
	t.Logf("%+v", rep)
	assert.Equal(t, 240, rep.Searches)
	assert.Zero(t, rep.FailedSearches, "searches at ONE while a node was down: %v", rep.FirstErrors)
	assert.Positive(t, rep.SearchesWhileDown)
	assert.Positive(t, rep.WritesWhileDown, "some writes went on while the node was down")
	assert.Zero(t, rep.FailedItems, "writes at QUORUM keep being acknowledged: %v", rep.FirstErrors)
	assert.Equal(t, rep.WriteBatches*10, rep.AckedItems)
	assert.Zero(t, rep.LostItems, "acknowledged writes read at ALL: %v", rep.FirstErrors)
	assert.Zero(t, rep.MissingOnNodeAfter, "the restarted node's replica after repairing reads")
}
