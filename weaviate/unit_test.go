package weaviate

// The tests in this file need no cluster: `go test ./weaviate/...` runs them alone. The tests
// against a real 3-node cluster carry the build tag cluster (go test -tags cluster).

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		name, in   string
		hosts      []string
		collection string
		bad        bool
	}{
		{"one host", "weaviate://127.0.0.1:8080/Pins", []string{"127.0.0.1:8080"}, "Pins", false},
		{"default port and capital", "weaviate://db.local/pins_2", []string{"db.local:8080"}, "Pins_2", false},
		{"three hosts", "weaviate://a:1,b:2,c:3/X", []string{"a:1", "b:2", "c:3"}, "X", false},
		{"wrong scheme", "http://a:1/X", nil, "", true},
		{"no collection", "weaviate://a:1/", nil, "", true},
		{"bad collection", "weaviate://a:1/9x", nil, "", true},
		{"nested path", "weaviate://a:1/x/y", nil, "", true},
		{"no host", "weaviate:///X", nil, "", true},
		{"options", "weaviate://a:1/X?replication=3&read=one&write=quorum&timeout=2s&retries=4", []string{"a:1"}, "X", false},
		{"bad consistency", "weaviate://a:1/X?consistency=TWO", nil, "", true},
		{"bad replication", "weaviate://a:1/X?replication=x", nil, "", true},
		{"unknown parameter", "weaviate://a:1/X?shards=2", nil, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseURL(c.in)
			if c.bad {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.hosts, got.Hosts)
			assert.Equal(t, c.collection, got.Collection)
			again, err := ParseURL(got.String())
			require.NoError(t, err)
			assert.Equal(t, got.Hosts, again.Hosts)
			assert.Equal(t, got.Collection, again.Collection)
			assert.Len(t, again.Options, len(got.Options))
		})
	}
	tg, err := ParseURL("weaviate://a:1/X?replication=3&read=one&write=all&timeout=2s&retries=4")
	require.NoError(t, err)
	cfg := defaultConfig()
	for _, o := range tg.Options {
		o(&cfg)
	}
	assert.Equal(t, 3, cfg.replication)
	assert.Equal(t, One, cfg.read)
	assert.Equal(t, All, cfg.write)
	assert.Equal(t, 2*time.Second, cfg.timeout)
	assert.Equal(t, 4, cfg.retries)
}

func TestMetaRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		meta map[string]string
	}{
		{"nil", nil},
		{"plain", map[string]string{"path": "a/b.jpg", "label": "shoe"}},
		{"separators in keys and values", map[string]string{"a=b": "c=d", "%41": "&x=1+2", " k ": " v "}},
		{"empty value and unicode", map[string]string{"": "", "ключ": "значение 🧦"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeMeta(encodeMeta(c.meta))
			require.NoError(t, err)
			if len(c.meta) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, c.meta, got)
		})
	}
	_, err := decodeMeta([]string{"no separator"})
	assert.Error(t, err)
}

func TestObjectIDDeterministic(t *testing.T) {
	assert.Equal(t, ObjectID("a/b.jpg"), ObjectID("a/b.jpg"))
	assert.NotEqual(t, ObjectID("a/b.jpg"), ObjectID("a/b.jpeg"))
	assert.Len(t, string(ObjectID("")), 36)
}

// TestOpenUnreachable: a URL where nothing listens fails with ErrUnreachable naming the address,
// after the bounded retries.
func TestOpenUnreachable(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = Open(ctx, "weaviate://"+addr+"/Pins", WithRetries(2, time.Millisecond, 5*time.Millisecond))
	assert.ErrorIs(t, err, ErrUnreachable)
	assert.Contains(t, err.Error(), addr)
}
