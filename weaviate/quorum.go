package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrQuorumUnreachable: a write at QUORUM or ALL was given up because too few of the
// cluster's nodes are up to hold the replicas that level needs. The error names the level,
// the replicas it needs and the nodes that are down; the write was not acknowledged (the
// nodes that are up may hold it, or not).
var ErrQuorumUnreachable = errors.New("weaviate: write consistency level not reachable")

// Weaviate (1.35) does not refuse a write whose consistency level cannot be met: it holds it
// until the client gives up. So when a write at QUORUM or ALL fails transiently (a timeout,
// most often), the store asks the cluster which nodes are down (quorumDown): if even every
// node that is up could not make up the level, the write ends at once with
// ErrQuorumUnreachable instead of being tried again, and writes in the next seconds ask first
// instead of being held. It refuses only when it is certain: it knows how many nodes the
// cluster has (counted when it was healthy) and has seen enough of them down.

// quorumProbeTimeout bounds one look at the cluster's nodes.
const quorumProbeTimeout = 2 * time.Second

// quorumState is what the store knows about the cluster's nodes.
type quorumState struct {
	mu        sync.Mutex
	nodes     int       // nodes in the cluster when last seen all healthy; 0 while unknown
	names     []string  // their names
	downUntil time.Time // a write before this asks first
}

// unreachableNode matches the name of the node that a node listing failed to reach.
var unreachableNode = regexp.MustCompile(`node: ([^:\s]+): send http request`)

// listNodes asks host for the cluster's nodes: their names and statuses, or the names of
// nodes it could not reach.
func listNodes(ctx context.Context, host string) (status map[string]string, unreachable []string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v1/nodes?output=minimal", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		for _, m := range unreachableNode.FindAllStringSubmatch(string(body), -1) {
			unreachable = append(unreachable, m[1])
		}
		return nil, unreachable, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var out struct {
		Nodes []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, nil, err
	}
	status = map[string]string{}
	for _, n := range out.Nodes {
		status[n.Name] = n.Status
	}
	return status, nil, nil
}

// countNodes records the cluster's size when every node is healthy (Open calls it).
func (s *Store) countNodes(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, quorumProbeTimeout)
	defer cancel()
	for _, n := range s.nodes {
		st, _, err := listNodes(ctx, n.host)
		if err != nil {
			continue
		}
		healthy := 0
		for _, v := range st {
			if v == "HEALTHY" {
				healthy++
			}
		}
		if healthy == len(st) && len(st) >= s.quorum.nodes {
			s.quorum.mu.Lock()
			s.quorum.nodes = len(st)
			s.quorum.names = slices.Sorted(maps.Keys(st))
			s.quorum.mu.Unlock()
		}
		return
	}
}

// needed is how many replicas a write at the store's write level needs, and the factor.
func (s *Store) needed() (need, rf int) {
	s.mu.Lock()
	rf = s.rf
	s.mu.Unlock()
	switch s.cfg.write {
	case Quorum:
		return rf/2 + 1, rf
	case All:
		return rf, rf
	}
	return 1, rf
}

// quorumDown returns an error wrapping ErrQuorumUnreachable when the cluster certainly
// cannot hold a write at the store's write level now, or nil (up, or not known).
func (s *Store) quorumDown(ctx context.Context, op string) error {
	need, rf := s.needed()
	s.quorum.mu.Lock()
	total, names := s.quorum.nodes, s.quorum.names
	s.quorum.mu.Unlock()
	if need <= 1 || total == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, quorumProbeTimeout)
	defer cancel()
	down := map[string]bool{}
	var hostsDown []string
	var asked string
	// A listing fails at the first node it cannot reach, picked at random: a few listings
	// name the others.
	for try := 0; try < 20 && ctx.Err() == nil; try++ {
		n := s.nodes[try%len(s.nodes)]
		st, unreachable, err := listNodes(ctx, n.host)
		switch {
		case err == nil:
			// The node's own view: a node it does not list, or not as healthy, is one it
			// cannot write a replica to.
			healthy := 0
			for name, v := range st {
				if v == "HEALTHY" {
					healthy++
				} else {
					down[name] = true
				}
			}
			if healthy >= need {
				return nil
			}
			for _, name := range names {
				if _, listed := st[name]; !listed {
					down[name] = true
				}
			}
			for len(down) < total-healthy { // unnamed: more nodes than the names known
				down[fmt.Sprintf("node %d", len(down)+1)] = true
			}
			asked = n.host
		case len(unreachable) > 0:
			for _, u := range unreachable {
				down[u] = true
			}
			asked = n.host
		default:
			if !slices.Contains(hostsDown, n.host) {
				hostsDown = append(hostsDown, n.host)
			}
		}
		if total-max(len(down), len(hostsDown)) < need && asked != "" {
			names := slices.Sorted(func(yield func(string) bool) {
				for k := range down {
					if !yield(k) {
						return
					}
				}
			})
			what := fmt.Sprintf("%s down, as %s reports", strings.Join(names, " and "), asked)
			if len(hostsDown) > len(down) {
				what = fmt.Sprintf("%s not answering", strings.Join(hostsDown, " and "))
			}
			s.quorum.mu.Lock()
			s.quorum.downUntil = time.Now().Add(3 * time.Second)
			s.quorum.mu.Unlock()
			return fmt.Errorf("%w: a write at %s needs %d of the collection's %d replicas, but %s (%d of the cluster's %d nodes up at most); the %s was not acknowledged",
				ErrQuorumUnreachable, s.cfg.write, need, rf, what, total-max(len(down), len(hostsDown)), total, op)
		}
	}
	return nil
}

// quorumSuspect reports whether a write should ask first: one was refused moments ago.
func (s *Store) quorumSuspect() bool {
	s.quorum.mu.Lock()
	defer s.quorum.mu.Unlock()
	return time.Now().Before(s.quorum.downUntil)
}

// guardWrite runs one attempt of a write at the store's write level: asked first when a
// write was refused moments ago, and turned into ErrQuorumUnreachable (which is not tried
// again) when it fails transiently while the level cannot be reached.
func (s *Store) guardWrite(ctx context.Context, op string, attempt func(ctx context.Context) error) error {
	if s.cfg.write != One && s.quorumSuspect() {
		if err := s.quorumDown(ctx, op); err != nil {
			return err
		}
	}
	err := attempt(ctx)
	if err != nil && s.cfg.write != One && transient(err) {
		pctx := context.WithoutCancel(ctx) // the attempt's own deadline has passed
		if qerr := s.quorumDown(pctx, op); qerr != nil {
			return qerr
		}
	}
	return err
}
