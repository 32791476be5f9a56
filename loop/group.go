package loop

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// Option configures a Group.
type Option func(*config)

type config struct {
	loops     int
	highWater int
	bufSize   int
	bufCount  int
	entries   int
	std       bool
	idle      time.Duration
}

func defaultConfig() config {
	return config{loops: runtime.GOMAXPROCS(0), highWater: 256 << 10, bufSize: 4096, bufCount: 1024, entries: 1024}
}

// WithLoops sets how many loops a Group runs (default GOMAXPROCS).
func WithLoops(n int) Option { return func(c *config) { c.loops = n } }

// WithHighWater sets the unsent bytes past which a connection stops
// receiving until they drain to half (default 256 KiB).
func WithHighWater(n int) Option { return func(c *config) { c.highWater = n } }

// WithBuffers sets each loop's receive buffers: count buffers of size bytes
// (default 1024 of 4 KiB). Where the kernel consumes buffers
// incrementally (Linux 6.12) small messages share a buffer; before, a
// loop with more connections receiving at once than buffers re-arms
// receives after ENOBUFS.
func WithBuffers(count, size int) Option {
	return func(c *config) { c.bufCount, c.bufSize = count, size }
}

// WithIdleTimeout closes a connection that has received and sent nothing
// for d; OnClose gets an error matching os.ErrDeadlineExceeded. On the ring
// a timeout on the loop's ring checks every d/2; on the fallback it is a
// read deadline.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// WithStd runs the handlers on std net even where io_uring is available.
func WithStd() Option { return func(c *config) { c.std = true } }

// ErrNotLoop is returned by Loop.Submit on the fallback, which has no ring.
var ErrNotLoop = fmt.Errorf("loop: no ring on the std fallback: %w", uring.ErrUnsupported)

// Group is a set of loops. Connections of a Server are spread over them.
type Group struct {
	mu       sync.Mutex
	servers  []*Server
	cfg      config
	loops    []*Loop
	fallback error // why the loops run on std net, or nil
	closed   atomic.Bool
	next     atomic.Uint32
	wg       sync.WaitGroup
}

// NewGroup starts the loops: on io_uring when it is available, else on the
// std fallback (Fallback says why).
func NewGroup(opts ...Option) (*Group, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.loops <= 0 {
		cfg.loops = 1
	}
	if cfg.highWater <= 0 {
		cfg.highWater = 256 << 10
	}
	g := &Group{cfg: cfg}
	if cfg.std {
		g.fallback = errors.New("loop: WithStd")
	}
	for i := 0; i < cfg.loops; i++ {
		l := &Loop{g: g, idx: i}
		g.loops = append(g.loops, l)
		var err error
		if g.fallback == nil {
			err = l.startRing()
			if err != nil && i == 0 && errors.Is(err, uring.ErrUnsupported) {
				g.fallback = err
				err = nil
			}
		}
		if err == nil && g.fallback != nil {
			l.startStd()
		}
		if err != nil {
			g.loops = g.loops[:i]
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// Fallback returns nil when the loops own io_uring rings, or why they run
// on std net.
func (g *Group) Fallback() error { return g.fallback }

// Loops returns the group's loops.
func (g *Group) Loops() []*Loop { return g.loops }

// pick returns the loop for a new connection or op, in turn.
func (g *Group) pick() *Loop { return g.loops[int(g.next.Add(1)-1)%len(g.loops)] }

// Close stops every loop: each closes its connections (OnClose gets
// net.ErrClosed), cancels its ops and waits for them, and frees its ring.
// Close returns when all are done; called from a callback on the ring, it
// returns at once and the loops end after it.
func (g *Group) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	g.mu.Lock()
	servers := g.servers
	g.mu.Unlock()
	for _, s := range servers {
		s.shut()
	}
	for _, l := range g.loops {
		l.stop()
	}
	if g.onLoopThread() {
		return nil // from a callback: the loops end once it returns
	}
	g.wg.Wait()
	return nil
}

// addServer records s for Close.
func (g *Group) addServer(s *Server) {
	g.mu.Lock()
	g.servers = append(g.servers, s)
	g.mu.Unlock()
}

// Loop is one event loop: a goroutine and, on io_uring, the ring it owns.
type Loop struct {
	g   *Group
	idx int

	mu       sync.Mutex
	queue    []func()
	spare    []func()
	queued   atomic.Int32
	stopped  bool // no more posts
	sleeping atomic.Bool
	wake     chan struct{} // the fallback's wake-up

	ring        *ringLoop // nil on the fallback
	tid         int       // the loop's thread (on the ring): a Close from a callback must not wait
	stdStopping bool
}

// Run runs fn on the loop, after the callbacks already queued; from any
// goroutine. It returns net.ErrClosed once the loop is stopping.
func (l *Loop) Run(fn func()) error { return l.post(fn) }

// onLoopThread reports whether the caller runs on one of the group's ring
// loops, that is, in a callback.
func (g *Group) onLoopThread() bool {
	if g.fallback != nil {
		return false
	}
	tid := gettid()
	for _, l := range g.loops {
		if l.tid == tid {
			return true
		}
	}
	return false
}

// Submit submits op from a callback running on this loop; cb runs on the
// loop with each of its completions (a multishot op's until one without
// ops.CQEFlagMore). Only the loop's own goroutine may call it: from
// elsewhere, call it inside Run. The memory op names stays valid (pinned)
// until its last completion, and Close cancels it and waits. It returns
// the op's ID for Cancel.
func (l *Loop) Submit(op ops.Op, cb func(uring.Result)) (uint64, error) {
	if l.ring == nil {
		return 0, ErrNotLoop
	}
	return l.ring.r.Submit(op, cb)
}

// Alloc returns n bytes of page-aligned memory outside the Go heap, owned
// by the loop until the Group closes; on the loop only. Ops that read or
// write it are submitted without pinning it, which is most of the Go
// side's cost per op for a buffer reused op after op. Its alignment suits
// O_DIRECT. Do not touch it after Close.
func (l *Loop) Alloc(n int) ([]byte, error) {
	if l.ring == nil {
		return nil, ErrNotLoop
	}
	return l.ring.r.Alloc(n)
}

// RegisterFiles registers fds as the loop's file table: an op with
// ops.FlagFixedFile names fds[i] by i (its Fd field), and the kernel takes
// no reference to the file per op. On the loop only; Close drops the
// table. The descriptors must stay open while registered.
func (l *Loop) RegisterFiles(fds []int) error {
	if l.ring == nil {
		return ErrNotLoop
	}
	return l.ring.r.RegisterFiles(fds)
}

// UnregisterFiles drops the table RegisterFiles made, once no op uses it.
func (l *Loop) UnregisterFiles() error {
	if l.ring == nil {
		return ErrNotLoop
	}
	return l.ring.r.UnregisterFiles()
}

// Cancel asks the kernel to cancel the op Submit returned id for; its
// callback still runs, with ECANCELED or its result. On the loop only.
func (l *Loop) Cancel(id uint64) error {
	if l.ring == nil {
		return ErrNotLoop
	}
	return l.ring.r.Cancel(id)
}

// post queues fn for the loop and wakes it if it sleeps.
func (l *Loop) post(fn func()) error {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return net.ErrClosed
	}
	l.queue = append(l.queue, fn)
	l.queued.Add(1)
	// Woken under the lock: once the loop has stopped taking posts (also
	// under it) no poster writes its eventfd, which the loop then closes.
	if l.sleeping.Load() && l.sleeping.CompareAndSwap(true, false) {
		l.wakeUp()
	}
	l.mu.Unlock()
	return nil
}

// runQueue runs what post queued.
func (l *Loop) runQueue() {
	l.mu.Lock()
	q := l.queue
	l.queue = l.spare[:0]
	l.queued.Store(0)
	l.mu.Unlock()
	for i, fn := range q {
		fn()
		q[i] = nil
	}
	l.mu.Lock()
	l.spare = q[:0]
	l.mu.Unlock()
}

// stop asks the loop to end; its last queued function ends it.
func (l *Loop) stop() {
	_ = l.post(l.shutdown)
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func (l *Loop) wakeUp() {
	if l.ring != nil {
		l.ring.wakeUp()
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Loop) shutdown() {
	if l.ring != nil {
		l.ring.stopping = true
		return
	}
	l.stdStopping = true
}
