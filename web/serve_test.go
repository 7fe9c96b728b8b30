package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stalled upload does not hold up or fail a shutdown: Serve waits its grace period, abandons
// the request, logs it and returns nil.
func TestServeAbandonsStalledUpload(t *testing.T) {
	f := newFixture(t)
	s, _ := f.server(t)
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		s.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, h, WithShutdownGrace(200*time.Millisecond), WithServeLogger(log.New(&logs, "", 0)))
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	// Headers and the start of a 1 MB body, then nothing more.
	fmt.Fprintf(conn, "POST /api/query HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1048576\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n\r\n", ln.Addr())
	conn.Write(bytes.Repeat([]byte{0x89}, 1000))
	<-entered
	cancel()
	require.NoError(t, <-done, "a shutdown with a stalled upload returns nil")
	assert.Contains(t, logs.String(), "abandoned")
}

// The listener accepts at most n connections at once; a closed one frees a slot.
func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ll := newLimitListener(ln, 2)
	defer ll.Close()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	a, err := ll.Accept()
	require.NoError(t, err)
	b, err := ll.Accept()
	require.NoError(t, err)
	third := make(chan net.Conn, 1)
	go func() {
		c, err := ll.Accept()
		if err == nil {
			third <- c
		}
		close(third)
	}()
	select {
	case <-third:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, a.Close())
	a.Close() // a second Close frees nothing more (and errors)
	c := <-third
	require.NotNil(t, c, "the closed connection's slot went to the third")
	c.Close()
	b.Close()
}

// A body sent a byte at a time is cut off at the upload read deadline: the slot it held is
// free again and the connection closed, however slowly the client goes on.
func TestSlowUploadCutOff(t *testing.T) {
	old := uploadReadTimeout
	uploadReadTimeout = 300 * time.Millisecond
	defer func() { uploadReadTimeout = old }()
	f := newFixture(t)
	s, _ := f.server(t, WithConcurrentQueries(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, s, WithServeLogger(nil)) }()
	defer func() { cancel(); <-done }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/query HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n", ln.Addr())
	// One byte every 100 ms until the server closes the connection, for at most 10 s: less than
	// the server-wide 30 s body timeout, so only the upload deadline can end it.
	closed := false
	for range 100 {
		if _, err := conn.Write([]byte{'x'}); err != nil {
			closed = true
			break
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := conn.Read(make([]byte, 512)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			closed = true
			break
		}
	}
	assert.True(t, closed, "the slow body was never cut off")
	// The slot is free: an upload is answered.
	body, ctype := multipartBody(t, "q.png", f.query)
	resp, err := http.Post("http://"+ln.Addr().String()+"/api/query", ctype, body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
