//go:build linux

package soak

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goaio/uring"
)

// env is what every workload shares: the ring, the files it may read, the
// stop signal, and the record of what happened.
type env struct {
	ring *uring.Ring
	dir  string
	stop chan struct{} // closed when the duration is over

	fixed     [][]byte // contents of fixedPath, for ReadFiles
	fixedPath []string
	big       []byte // contents of bigPath, served by sendfile and /file
	bigPath   string

	rec *record
}

// running reports whether the workloads should start another round.
func (e *env) running() bool {
	select {
	case <-e.stop:
		return false
	default:
		return true
	}
}

// record counts operations per kind, the errors the scenario provokes per
// class, and keeps the text of every failure (the first few in full).
type record struct {
	ops      sync.Map // kind -> *atomic.Int64
	expected sync.Map // class -> *atomic.Int64

	mu       sync.Mutex
	failures []string
	nfail    int
}

const keepFailures = 40

func (r *record) add(m *sync.Map, key string, n int64) {
	v, ok := m.Load(key)
	if !ok {
		v, _ = m.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(n)
}

// op counts one completed operation of kind.
func (r *record) op(kind string) { r.add(&r.ops, kind, 1) }

func (r *record) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nfail++
	if len(r.failures) < keepFailures {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
}

func (r *record) failed() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nfail, append([]string(nil), r.failures...)
}

func snapshot(m *sync.Map) map[string]int64 {
	out := map[string]int64{}
	m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-28s %d\n", k, m[k])
	}
	return b.String()
}

func (r *record) totalOps() int64 {
	var n int64
	r.ops.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

// Error classes: what the scenario provokes, and so may see.
type class uint

const (
	cClosed   class = 1 << iota // os.ErrClosed, net.ErrClosed: a Close under the call
	cDeadline                   // os.ErrDeadlineExceeded, context.DeadlineExceeded
	cCanceled                   // context.Canceled
	cEOF                        // io.EOF, io.ErrUnexpectedEOF: the peer closed
	cPeer                       // ECONNRESET, EPIPE: the peer closed
	cRefused                    // ECONNREFUSED: the listener closed under a dial
)

var classNames = []string{"closed", "deadline", "canceled", "eof", "peer", "refused"}

// classify names err's class, or 0 for an error no scenario provokes.
func classify(err error) class {
	switch {
	case errors.Is(err, os.ErrClosed), errors.Is(err, net.ErrClosed):
		return cClosed
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return cDeadline
	case errors.Is(err, context.Canceled):
		return cCanceled
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return cEOF
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return cPeer
	case errors.Is(err, syscall.ECONNREFUSED):
		return cRefused
	}
	return 0
}

func (c class) String() string {
	for i, n := range classNames {
		if c == 1<<i {
			return n
		}
	}
	return "other"
}

// check accounts for err from the call named where: nil, an error of a
// class in allowed (counted), or a failure. It returns err's class (0 for
// nil or a failure).
func (e *env) check(where string, err error, allowed class) class {
	if err == nil {
		return 0
	}
	c := classify(err)
	if c != 0 && c&allowed != 0 {
		e.rec.add(&e.rec.expected, where+": "+c.String(), 1)
		return c
	}
	e.rec.fail("%s: unexpected error: %v (%s)", where, err, errChain(err))
	return 0
}

// errChain spells out err's wrapping, types and errnos, for the report.
func errChain(err error) string {
	var parts []string
	for err != nil {
		s := fmt.Sprintf("%T", err)
		if en, ok := err.(syscall.Errno); ok {
			s += fmt.Sprintf("(%d)", int(en))
		}
		parts = append(parts, s)
		err = errors.Unwrap(err)
	}
	return strings.Join(parts, " > ")
}

// mismatch records a data mismatch: got should have been want's prefix.
func (e *env) mismatch(where string, got, want []byte) {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	e.rec.fail("%s: DATA MISMATCH: %d bytes, expected %d; first difference at byte %d", where, len(got), len(want), i)
}

// verifyPrefix checks that got is a prefix of want.
func (e *env) verifyPrefix(where string, got, want []byte) bool {
	if len(got) > len(want) || !bytes.Equal(got, want[:len(got)]) {
		e.mismatch(where, got, want)
		return false
	}
	return true
}

// callCtx returns a context for one call: mostly one bounded by a generous
// safety deadline (a call that reaches it is reported as a hang), sometimes
// one cancelled at a random moment, sometimes a short deadline. provoked is
// the class of error the context may cause.
func callCtx(rng *rand.Rand, safety, within time.Duration) (ctx context.Context, cancel context.CancelFunc, provoked class) {
	switch x := rng.IntN(10); {
	case x < 6:
		ctx, cancel = context.WithTimeout(context.Background(), safety)
		return ctx, cancel, 0
	case x < 8:
		cctx, ccancel := context.WithCancel(context.Background())
		t := time.AfterFunc(randDur(rng, within), ccancel)
		return cctx, func() { t.Stop(); ccancel() }, cCanceled
	default:
		ctx, cancel = context.WithTimeout(context.Background(), randDur(rng, within))
		return ctx, cancel, cDeadline
	}
}

// randDur is a random duration in [0, limit).
func randDur(rng *rand.Rand, limit time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(limit)))
}

// fill writes the pattern of seed into b: the same seed gives the same bytes.
func fill(b []byte, seed uint64) {
	x := seed
	next := func() uint64 { // splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], next())
	}
	if i < len(b) {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], next())
		copy(b[i:], t[:])
	}
}

func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	fill(b, seed)
	return b
}

// waitTimeout waits for wg at most d; false if it did not finish.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// goroutineDump is every goroutine's stack, grouped, for a hang or leak report.
func goroutineDump() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	const max = 64 << 10
	if b.Len() > max {
		return b.String()[:max] + "\n... (cut)"
	}
	return b.String()
}

// connSet tracks a server's connections so they can be closed at the end.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// add tracks c; false (and c closed) once closeAll ran.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeAll closes every tracked connection, under whatever I/O is in flight.
func (s *connSet) closeAll() int {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	return len(conns)
}
