//go:build linux

package stacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/loopback"
	unet "github.com/goaio/uring/net"
)

// TestMain fails the run if anything outlives the tests: each mix also
// checks for itself (leakCheck), this catches what runs between them.
func TestMain(m *testing.M) {
	loopback.ServeIfChild() // BenchmarkFastHTTP's servers are this binary, re-executed
	flag.Parse()
	if err := uring.Available(); err != nil && os.Getenv("URING_REQUIRE") != "1" {
		fmt.Printf("stacks: the mixes with a ring side skip: io_uring unavailable: %v\n", err)
	}
	goleak.VerifyTestMain(m, append(fasthttpSleepers, gnetPool...)...)
}

// fasthttpSleepers are fasthttp's own background goroutines (its worker
// pool's and client's cleaners, the server's date updater), which sleep
// for up to 10 s after their server or client is gone before they end.
var fasthttpSleepers = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
}

// gnetPool is the worker pool gnet's package starts when it is loaded (ants'
// cleaner and clock), which lives as long as the process.
var gnetPool = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
	goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
}

// side is one end's sockets: this module's ring or std's netpoller.
type side struct {
	name   string
	listen func(t testing.TB) net.Listener
	dial   func(ctx context.Context, network, address string) (net.Conn, error)
}

// mix pairs a server side with a client side.
type mix struct {
	name           string
	server, client side
}

// forEachMix runs f in the four mixes: ring with ring, std with std (the
// control: a stack that fails there fails for its own reasons), and the two
// crossings. A mix with a ring side gets a ring of its own, closed at its
// end so the leak check sees the ring's goroutines go too; without io_uring
// it skips, or fails under URING_REQUIRE=1.
func forEachMix(t *testing.T, f func(t *testing.T, m mix)) {
	for _, c := range []struct {
		name                   string
		ringServer, ringClient bool
	}{
		{"ring-ring", true, true},
		{"std-std", false, false},
		{"ring-server-std-client", true, false},
		{"std-server-ring-client", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			leakCheck(t)
			var r *uring.Ring
			if c.ringServer || c.ringClient {
				r = newRing(t)
			}
			m := mix{name: c.name, server: stdSide(), client: stdSide()}
			if c.ringServer {
				m.server = ringSide(r)
			}
			if c.ringClient {
				m.client = ringSide(r)
			}
			f(t, m)
		})
	}
}

// newRing returns a ring closed at the end of t, after everything t
// registers later has shut its sockets.
func newRing(t *testing.T) *uring.Ring {
	t.Helper()
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
	r, err := uring.New(uring.WithShards(2), uring.WithMaxInFlight(1<<14))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// leakCheck fails t if goroutines started during it outlive its cleanups
// (registered first, so it runs after every later cleanup).
func leakCheck(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return // a failed test may leave its peers blocked: the failure is the report
		}
		goleak.VerifyNone(t, append([]goleak.Option{before}, fasthttpSleepers...)...)
	})
}

func stdSide() side {
	var lc net.ListenConfig
	var d net.Dialer
	return checkedSide[*net.TCPListener, *net.TCPConn]("std", lc.Listen, d.DialContext)
}

// ringSide is this module's net on r. Its listeners and conns are checked
// to be the ring's: a test of the ring must not pass on std's sockets.
func ringSide(r *uring.Ring) side {
	lc := &unet.ListenConfig{Ring: r}
	d := &unet.Dialer{Ring: r}
	return checkedSide[*unet.TCPListener, *unet.TCPConn]("ring", lc.Listen, d.DialContext)
}

// checkedSide is a side whose listeners must be L and conns C.
func checkedSide[L net.Listener, C net.Conn](name string,
	listen func(ctx context.Context, network, address string) (net.Listener, error),
	dial func(ctx context.Context, network, address string) (net.Conn, error)) side {
	return side{
		name: name,
		listen: func(t testing.TB) net.Listener {
			ln, err := listen(context.Background(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { ln.Close() })
			requireType[L](t, ln)
			return ln
		},
		dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			c, err := dial(ctx, network, address)
			if err == nil {
				if _, ok := c.(C); !ok {
					c.Close()
					return nil, fmt.Errorf("%s dial gave %T", name, c)
				}
			}
			return c, err
		},
	}
}

func requireType[T any](t testing.TB, v any) {
	t.Helper()
	_, ok := v.(T)
	require.True(t, ok, "got %T, want %T", v, *new(T))
}

// randomBytes returns n bytes from a generator seeded with seed, so either
// end can make them again.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(seedOf(seed)).Read(b)
	return b
}

func seedOf(seed uint64) (s [32]byte) {
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
