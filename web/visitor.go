package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// VisitorPrefix begins the engagement user ID of every web visitor ("web:" and 32 hex digits).
// The command's engage refuses user names that begin with it, so a visitor can never act as
// a user the command wrote for, nor the other way round.
const VisitorPrefix = "web:"

// visitorCookie holds a visitor's ID in the server's signed form.
const visitorCookie = "pinrec_user"

// minKeyLen is the shortest visitor key WithVisitorKey accepts.
const minKeyLen = 16

// ErrShortKey is returned by New for a visitor key shorter than 16 bytes.
var ErrShortKey = errors.New("web: visitor key shorter than 16 bytes")

// visitors issues and checks visitor IDs: the cookie holds 16 random bytes and an HMAC-SHA256
// of them under the server's key, both base64url ("R.M"). A cookie not of that form, or signed
// with another key, is no identity at all: its request gets a fresh ID. So a client cannot
// choose its ID (to act as someone else) and every ID was issued by this server, which limits
// how many it issues to one address (Limits.NewVisitors).
type visitors struct {
	key []byte
}

// issue returns a fresh cookie value and its user ID.
func (v *visitors) issue() (cookie, user string, err error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", "", fmt.Errorf("web: no random source: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(id[:]) + "." + base64.RawURLEncoding.EncodeToString(v.mac(id[:])),
		VisitorPrefix + hex.EncodeToString(id[:]), nil
}

func (v *visitors) mac(id []byte) []byte {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte("pinrec visitor v1\x00"))
	m.Write(id)
	return m.Sum(nil)[:16]
}

// user returns the user ID of a cookie value in the server's form, or "" for any other value.
func (v *visitors) user(cookie string) string {
	rs, ms, ok := strings.Cut(cookie, ".")
	if !ok || len(cookie) > 64 {
		return ""
	}
	id, err1 := base64.RawURLEncoding.DecodeString(rs)
	mac, err2 := base64.RawURLEncoding.DecodeString(ms)
	if err1 != nil || err2 != nil || len(id) != 16 || !hmac.Equal(mac, v.mac(id)) {
		return ""
	}
	return VisitorPrefix + hex.EncodeToString(id)
}

// visitor returns the request's visitor ID, or "" when its cookie is missing or not the
// server's own.
func (v *visitors) visitor(r *http.Request) string {
	c, err := r.Cookie(visitorCookie)
	if err != nil {
		return ""
	}
	return v.user(c.Value)
}

// LoadOrCreateKey reads a visitor key from the file at path, or creates the file with 32
// random bytes (mode 0600) when it does not exist. Keep it beside the engagement database, so
// that visitors keep their identity across restarts; anyone who reads it can sign visitor IDs.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < minKeyLen {
			return nil, fmt.Errorf("visitor key %s: %w", path, ErrShortKey)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("visitor key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("visitor key %s: no random source: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".visitor-key-*")
	if err != nil {
		return nil, fmt.Errorf("visitor key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(key)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			// Link, not rename: two servers starting at once keep the first key.
			if err = os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
				return LoadOrCreateKey(path)
			}
		}
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("visitor key %s: %w", path, err)
	}
	return key, nil
}

// Limits bound what anonymous web visitors may write (likes, saves and their undoing); a
// request past a limit gets 429 with Retry-After and records nothing. Rates are events per
// second, bursts the events allowed at once. A zero Limits is DefaultLimits.
type Limits struct {
	// Events per client address (IPv6 by its /64), whatever the visitor.
	Address      rate.Limit
	AddressBurst int
	// New visitor IDs issued per client address: the bound on fresh identities, so one
	// client cannot act as thousands of visitors.
	NewVisitors      rate.Limit
	NewVisitorsBurst int
	// Events per visitor ID.
	Visitor      rate.Limit
	VisitorBurst int
}

// DefaultLimits: per address 1 event/s (bursts of 30), 1 new visitor a minute (bursts of 5),
// per visitor 1 event every 2 s (bursts of 20).
func DefaultLimits() Limits {
	return Limits{Address: 1, AddressBurst: 30, NewVisitors: rate.Every(time.Minute), NewVisitorsBurst: 5,
		Visitor: 0.5, VisitorBurst: 20}
}

// maxTracked bounds the clients and visitors a limiter table remembers.
const maxTracked = 100_000

// limiters is a table of token buckets by key, bounded in size: when full, it forgets the
// buckets that are full again (as good as new), and refuses new keys if none is.
type limiters struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	m     map[string]*rate.Limiter
}

func newLimiters(r rate.Limit, burst int) *limiters {
	return &limiters{r: r, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes one token from key's bucket at now; false when it has none (or the table is
// full of active keys).
func (l *limiters) allow(key string, now time.Time) bool {
	return allowAll(now, limiterKey{l, key})
}

// limiterKey is one bucket of a table.
type limiterKey struct {
	l   *limiters
	key string
}

// get returns the bucket, creating it; nil when the table is full of active keys.
func (k limiterKey) get(now time.Time) *rate.Limiter {
	l := k.l
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[k.key]
	if lim == nil {
		if len(l.m) >= maxTracked {
			for key, b := range l.m {
				if b.TokensAt(now) >= float64(l.burst) {
					delete(l.m, key)
				}
			}
			if len(l.m) >= maxTracked {
				return nil
			}
		}
		lim = rate.NewLimiter(l.r, l.burst)
		l.m[k.key] = lim
	}
	return lim
}

// allowAll takes one token from each bucket at now, or none at all when one of them is empty:
// a request refused by one limit does not spend the others.
func allowAll(now time.Time, keys ...limiterKey) bool {
	taken := make([]*rate.Reservation, 0, len(keys))
	ok := true
	for _, k := range keys {
		lim := k.get(now)
		if lim == nil {
			ok = false
			break
		}
		r := lim.ReserveN(now, 1)
		if !r.OK() || r.DelayFrom(now) > 0 {
			r.CancelAt(now)
			ok = false
			break
		}
		taken = append(taken, r)
	}
	if !ok {
		for _, r := range taken {
			r.CancelAt(now)
		}
	}
	return ok
}

// clientAddress is the request's client address for the limits: the IP of RemoteAddr, an
// IPv6 address by its /64 (one subscriber's block).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
