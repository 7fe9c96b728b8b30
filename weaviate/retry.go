package weaviate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
)

// remoteError is an error reported in a response body (GraphQL errors, a batch item's errors)
// rather than by the HTTP status.
type remoteError struct{ msg string }

func (e *remoteError) Error() string { return e.msg }

// transientMarkers are substrings of server messages for failures that a retry can cure: a
// replica down or not yet marked dead, a node starting or shutting down, a timeout between
// nodes.
var transientMarkers = []string{
	"replica", "connection refused", "connection reset", "broken pipe", "deadline exceeded",
	"timeout", "timed out", "unavailable", "eof", "not ready", "leader", "shutting down",
	"no such host", "i/o", "try again", "too many requests", "consistency level",
}

// transient reports whether err may go away when the request is sent again, possibly to
// another node.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var we *fault.WeaviateClientError
	if errors.As(err, &we) {
		if we.DerivedFromError != nil {
			return transient(we.DerivedFromError) || hasMarker(we.DerivedFromError.Error())
		}
		if we.StatusCode >= 500 || we.StatusCode == 429 {
			return true
		}
		return false
	}
	var re *remoteError
	if errors.As(err, &re) {
		return hasMarker(re.msg)
	}
	return false
}

func hasMarker(msg string) bool {
	msg = strings.ToLower(msg)
	for _, m := range transientMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// clean replaces the client's error wrapper ("status code: -1, error: check the
// DerivedFromError field ...") by the error it carries or the HTTP status and body.
func clean(err error) error {
	var we *fault.WeaviateClientError
	if !errors.As(err, &we) {
		return err
	}
	if we.DerivedFromError != nil {
		return we.DerivedFromError
	}
	return fmt.Errorf("HTTP %d: %s", we.StatusCode, strings.TrimSpace(we.Msg))
}

// unreachable reports whether err says that no server answered at all.
func unreachable(err error) bool {
	var ne *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) && ne.Op == "dial"
}

// backoff returns the pause before retry attempt (1, 2, ...): doubling from min, capped at
// max, with up to 50% random jitter so that clients retrying together spread out.
func (c *config) backoff(attempt int) time.Duration {
	d := c.backoffMin << min(attempt-1, 20)
	if d > c.backoffMax || d <= 0 {
		d = c.backoffMax
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// do runs f against one node after another until it succeeds, fails permanently, the retries
// are spent or ctx ends. Each attempt gets its own timeout. A node that failed transiently is
// avoided for a few seconds while others remain.
func (s *Store) do(ctx context.Context, op string, f func(ctx context.Context, n *node) error) error {
	var last error
	allUnreachable := true
	idx := s.pick()
	for attempt := 0; attempt <= s.cfg.retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(s.cfg.backoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%s: %w (last failure: %v)", op, ctx.Err(), last)
			case <-t.C:
			}
		}
		if attempt > 0 {
			idx = s.pickAfter(idx + 1)
		}
		n := s.nodes[idx]
		actx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
		err := f(actx, n)
		cancel()
		if err == nil {
			n.badUntil.Store(0)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		if !transient(err) {
			return fmt.Errorf("%s (node %s): %w", op, n.host, clean(err))
		}
		n.badUntil.Store(time.Now().Add(3 * time.Second).UnixNano())
		err = clean(err)
		allUnreachable = allUnreachable && unreachable(err)
		last = fmt.Errorf("node %s: %w", n.host, err)
	}
	if allUnreachable {
		return fmt.Errorf("%s: %w: %s (%d attempts; last: %v)", op, ErrUnreachable, strings.Join(s.t.Hosts, ","), s.cfg.retries+1, last)
	}
	return fmt.Errorf("%s: %d attempts failed: %w", op, s.cfg.retries+1, last)
}

// pick chooses the node a request starts on: round robin over the nodes not marked bad.
func (s *Store) pick() int {
	return s.pickAfter(int(s.next.Add(1)))
}

// pickAfter returns the first node at or after i (cyclically) not marked bad, or i's node
// when all are.
func (s *Store) pickAfter(i int) int {
	now := time.Now().UnixNano()
	for j := range len(s.nodes) {
		k := (i + j) % len(s.nodes)
		if s.nodes[k].badUntil.Load() < now {
			return k
		}
	}
	return i % len(s.nodes)
}
