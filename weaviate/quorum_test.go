package weaviate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeNodes answers GET /v1/nodes as a Weaviate node of a 3-node cluster does: the list when
// every node answers, otherwise an error naming one unreachable node, picked in turn.
func fakeNodes(t *testing.T, down ...string) *httptest.Server {
	var turn atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		if len(down) == 1 && down[0] == "listed-alone" { // the dead nodes left the membership
			fmt.Fprint(w, `{"nodes":[{"name":"weaviate-0","status":"HEALTHY"}]}`)
			return
		}
		if len(down) > 0 {
			n := down[int(turn.Add(1))%len(down)]
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"error":[{"message":"node: %s: send http request: Get \"http://127.0.0.1:1/nodes/status?output=minimal\": dial tcp 127.0.0.1:1: connect: connection refused"}]}`, n)
			return
		}
		fmt.Fprint(w, `{"nodes":[{"name":"weaviate-0","status":"HEALTHY"},{"name":"weaviate-1","status":"HEALTHY"},{"name":"weaviate-2","status":"HEALTHY"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func quorumStore(host string, level Consistency, rf, nodes int) *Store {
	s := &Store{cfg: defaultConfig(), rf: rf}
	s.cfg.write = level
	s.nodes = []*node{{host: host}}
	s.quorum.nodes = nodes
	if nodes == 3 {
		s.quorum.names = []string{"weaviate-0", "weaviate-1", "weaviate-2"}
	}
	return s
}

func TestQuorumDown(t *testing.T) {
	cases := []struct {
		name    string
		level   Consistency
		down    []string
		nodes   int // cluster size known when healthy; 0: never seen healthy
		refused bool
	}{
		{"all up", Quorum, nil, 3, false},
		{"one down, QUORUM reachable", Quorum, []string{"weaviate-1"}, 3, false},
		{"two down, QUORUM not reachable", Quorum, []string{"weaviate-1", "weaviate-2"}, 3, true},
		{"one down, ALL not reachable", All, []string{"weaviate-2"}, 3, true},
		{"two down, ONE asks nothing", One, []string{"weaviate-1", "weaviate-2"}, 3, false},
		{"two left the listing, QUORUM not reachable", Quorum, []string{"listed-alone"}, 3, true},
		{"cluster size unknown: no refusal", Quorum, []string{"weaviate-1", "weaviate-2"}, 0, false},
		{"two down of five: QUORUM of 3 may still be up", Quorum, []string{"weaviate-1", "weaviate-2"}, 5, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeNodes(t, c.down...)
			s := quorumStore(strings.TrimPrefix(srv.URL, "http://"), c.level, 3, c.nodes)
			err := s.quorumDown(context.Background(), "batch")
			if !c.refused {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrQuorumUnreachable)
			msg := err.Error()
			names := c.down
			if names[0] == "listed-alone" {
				names = []string{"weaviate-1", "weaviate-2"}
			}
			for _, want := range append([]string{string(c.level), "replicas", "not acknowledged"}, names...) {
				assert.Contains(t, msg, want)
			}
		})
	}
}

// TestGuardWrite: a write that fails transiently while the level cannot be reached ends with
// ErrQuorumUnreachable, and the next write is refused without being sent.
func TestGuardWrite(t *testing.T) {
	srv := fakeNodes(t, "weaviate-1", "weaviate-2")
	s := quorumStore(strings.TrimPrefix(srv.URL, "http://"), Quorum, 3, 3)
	sent := 0
	held := func(ctx context.Context) error { sent++; return context.DeadlineExceeded }
	err := s.guardWrite(context.Background(), "batch", held)
	require.ErrorIs(t, err, ErrQuorumUnreachable)
	assert.False(t, transient(err), "a refusal is not tried again")
	assert.Equal(t, 1, sent)
	err = s.guardWrite(context.Background(), "batch", held)
	require.ErrorIs(t, err, ErrQuorumUnreachable)
	assert.Equal(t, 1, sent, "refused before being sent")

	// A failure that is not about the cluster passes through.
	up := fakeNodes(t)
	s = quorumStore(strings.TrimPrefix(up.URL, "http://"), Quorum, 3, 3)
	err = s.guardWrite(context.Background(), "batch", held)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
}
