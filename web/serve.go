package web

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ServeOption configures Serve.
type ServeOption func(*serveConfig)

type serveConfig struct {
	maxConns int
	grace    time.Duration
	logger   *log.Logger
}

// WithMaxConns bounds the connections served at once (default 256): further clients wait in
// the listen queue until one closes, so slow clients cannot exhaust the process.
func WithMaxConns(n int) ServeOption { return func(c *serveConfig) { c.maxConns = n } }

// WithShutdownGrace bounds how long Serve waits, once its context is done, for the requests in
// flight (default 10 s); what is left then is abandoned (its connections closed) and logged.
func WithShutdownGrace(d time.Duration) ServeOption { return func(c *serveConfig) { c.grace = d } }

// WithServeLogger sets where Serve logs its shutdown and the HTTP server's errors (default
// log.Default(); nil silences it).
func WithServeLogger(l *log.Logger) ServeOption {
	return func(c *serveConfig) {
		if l == nil {
			l = log.New(io.Discard, "", 0)
		}
		c.logger = l
	}
}

// Serve serves h on ln with timeouts fit for strangers (10 s for the request headers, 30 s for
// a request body unless the handler extends it, as uploads do to 60 s; 2 min to write an
// answer; 1 min idle) and a connection cap, until ctx is done. Then it stops accepting, waits
// for the requests in flight at most the grace period, closes what is left (logging how many
// connections it abandoned) and returns nil: a stalled client cannot hold up or fail a
// shutdown. It returns an error only when serving fails. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ...ServeOption) error {
	c := serveConfig{maxConns: 256, grace: 10 * time.Second, logger: log.Default()}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.maxConns < 1 || c.grace < 0 {
		return errors.New("web: Serve: the connection cap must be positive and the grace not negative")
	}
	var active atomic.Int64
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          c.logger,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateActive:
				active.Add(1)
			case http.StateIdle, http.StateHijacked, http.StateClosed:
				// Closed after Active without Idle (a failed request) counts down too; the
				// count is for the shutdown log line only.
				if active.Load() > 0 {
					active.Add(-1)
				}
			}
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(newLimitListener(ln, c.maxConns)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		c.logger.Printf("web: %d requests still in flight after %v: abandoned (%v)", active.Load(), c.grace, err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// limitListener accepts at most n connections at once: Accept waits for a closed one.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, when closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
