package uring

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// Ring is a set of io_uring instances (shards) and the dispatcher that hands
// their completions back to waiting goroutines. A Ring is safe for use by many
// goroutines at once.
type Ring struct {
	shards    []*shard
	closed    atomic.Bool   // Close has begun: calls return ErrClosed
	closeDone chan struct{} // closed when Close has finished
	closeErr  error
	// lifeMu keeps the kernel rings alive under calls that use them outside
	// the request path (registration, Fd, WithAttachWQ): they hold it shared,
	// and Close takes it once, after closed is set, to wait them out.
	lifeMu sync.RWMutex

	regMu    sync.Mutex
	regBufs  *registeredBuffers
	bufRings map[uint16]*BufferRing // by group, for Stream to hand back what it drops
}

// New creates a Ring. With no options it has one shard (io_uring instance) of
// 256 SQ entries per GOMAXPROCS, as Default does.
//
// Where io_uring cannot be used, the error matches ErrUnsupported and wraps the
// cause (for example syscall.ENOSYS under a seccomp profile, syscall.EPERM with
// kernel.io_uring_disabled, or a kernel older than Linux 6.1, FloorVersion,
// with the feature it lacks).
func New(opts ...Option) (*Ring, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	cfg.normalize()
	if err := checkKernel(); err != nil {
		return nil, err
	}
	if a := cfg.attach; a != nil {
		// The other ring must stay open until our rings are attached.
		a.lifeMu.RLock()
		defer a.lifeMu.RUnlock()
		if a.closed.Load() {
			return nil, fmt.Errorf("uring: WithAttachWQ: %w", ErrClosed)
		}
	}
	r := &Ring{closeDone: make(chan struct{})}
	if err := r.addShards(&cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// minFitEntries is the smallest SQ a ring is shrunk to under RLIMIT_MEMLOCK.
const minFitEntries = 16

// addShards sets up cfg.shards shards. Where the kernel charges rings to a
// small RLIMIT_MEMLOCK (a user without CAP_IPC_LOCK: systemd before v253 and
// Debian 12 give 64 KiB, which holds two rings of 256 entries, 28 KiB each)
// a size the caller left to the default is fitted to the limit: fewer
// shards first, then a smaller first ring, and only then no ring.
func (r *Ring) addShards(cfg *config) error {
	for i := 0; i < cfg.shards; i++ {
		wq := -1
		if cfg.attach != nil {
			wq = cfg.attach.shards[0].k.fd()
		} else if i > 0 {
			wq = r.shards[0].k.fd() // shards share one worker pool
		}
		s, err := newShard(r, i, cfg, wq)
		if errors.Is(err, syscall.ENOMEM) {
			if i > 0 && !cfg.shardsSet {
				return nil // fewer shards
			}
			if i == 0 && !cfg.entriesSet && cfg.entries > minFitEntries {
				cfg.entries /= 2
				i--
				continue
			}
		}
		if err != nil {
			r.closeShards()
			return err
		}
		r.shards = append(r.shards, s)
	}
	return nil
}

// closeShards closes the shards of a Ring that New gives up on.
func (r *Ring) closeShards() {
	for _, s := range r.shards {
		s.close(0)
	}
	r.shards = nil
}

// setupError classifies an io_uring_setup failure: the errnos a blocked or
// missing io_uring produces become UnsupportedError.
func setupError(err error) error {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return &UnsupportedError{What: "io_uring", Cause: err}
	}
	switch en {
	case syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.EOPNOTSUPP:
		return &UnsupportedError{What: "io_uring", Cause: err}
	}
	return err
}

// pick returns the calling goroutine's shard, chosen by the address of its
// stack: a goroutine keeps to one shard whichever processor runs it. Binding
// shards to processors instead splits batches whenever the scheduler moves a
// woken goroutine to the other processor (measured: 3-5 ops per
// io_uring_enter against 18-60 this way).
func (r *Ring) pick() *shard {
	if len(r.shards) == 1 {
		return r.shards[0]
	}
	var probe byte
	return r.shards[int(uintptr(unsafe.Pointer(&probe))>>13%uintptr(len(r.shards)))]
}

// Close cancels every operation in flight, waits until the kernel has
// completed them all (so no memory or fd is in use), wakes their callers with
// ErrClosed, lets queued Async callbacks run, and releases the rings. Calls
// after Close return ErrClosed. A second Close waits for the first, except
// inside an Async callback, where Close never waits for that callback.
func (r *Ring) Close() error {
	self := goroutineID()
	if !r.closed.CompareAndSwap(false, true) {
		if !r.inCallback(self) {
			<-r.closeDone
		}
		return r.closeErr
	}
	// A barrier: wait out registrations that began before closed was set.
	r.lifeMu.Lock()
	//lint:ignore SA2001 the critical section is empty on purpose
	r.lifeMu.Unlock()
	var wg sync.WaitGroup
	for _, s := range r.shards {
		wg.Add(1)
		go func() { defer wg.Done(); s.close(self) }()
	}
	wg.Wait()
	r.regMu.Lock()
	if r.regBufs != nil {
		r.regBufs.pin.Unpin()
		r.regBufs = nil
	}
	var brs []*BufferRing
	for _, br := range r.bufRings {
		brs = append(brs, br)
	}
	r.regMu.Unlock()
	for _, br := range brs { // their C memory, which nothing uses any more
		br.Close()
	}
	close(r.closeDone)
	return r.closeErr
}

// inCallback reports whether goroutine id runs one of the Ring's callbacks.
func (r *Ring) inCallback(id uint64) bool {
	for _, s := range r.shards {
		if s.cbs.isRunner(id) {
			return true
		}
	}
	return false
}

// Fd returns the file descriptor of the Ring's first shard (for msg_ring or
// WithAttachWQ), or -1 after Close. A msg_ring message sent to it lands in
// that shard.
func (r *Ring) Fd() int {
	fd := -1
	r.live(func() error { fd = r.shards[0].k.fd(); return nil })
	return fd
}

// live runs fn with the kernel rings open, or returns ErrClosed.
func (r *Ring) live(fn func() error) error {
	r.lifeMu.RLock()
	defer r.lifeMu.RUnlock()
	if r.closed.Load() {
		return ErrClosed
	}
	return fn()
}

// MaxBatch returns the most operations one DoBatch call takes: the smaller of
// a shard's submission queue and its request slots. Longer work is split by
// the caller into batches of at most this many.
func (r *Ring) MaxBatch() int {
	s := r.shards[0]
	return min(s.stageCap, s.slots.n)
}

// Shards returns the number of io_uring instances in the Ring.
func (r *Ring) Shards() int { return len(r.shards) }

// Stats returns the Ring's counters, summed over shards.
func (r *Ring) Stats() Stats {
	var st Stats
	st.Shards = len(r.shards)
	for _, s := range r.shards {
		s.addStats(&st)
	}
	if st.Batches > 0 {
		st.MeanBatch = float64(st.Submitted) / float64(st.Batches)
	}
	return st
}

// Probe reports which operations the running kernel supports.
func (r *Ring) Probe() Probe { return r.shards[0].probe }

// Probe is the set of opcodes the kernel supports (io_uring_get_probe).
type Probe struct {
	supported [256]bool
	LastOp    ops.Opcode // the highest opcode the kernel knows
}

// Supports reports whether the kernel has op.
func (p Probe) Supports(op ops.Opcode) bool { return p.supported[op] }

// Available reports whether io_uring can be used in this process: nil, or an
// error matching ErrUnsupported that says why not (no io_uring, or a kernel
// older than the floor, FloorVersion, naming what it lacks). The answer is
// cached.
func Available() error { return checkKernel() }

var (
	defaultOnce sync.Once
	defaultRing *Ring
	defaultErr  error
)

// defaultMaxInFlight is the Default Ring's request table per shard: room
// for a server's requests that wait on peers (each datagram socket's
// receive, copies from sockets, accepts ahead), and only memory where used
// (stream connections wait in the netpoller and hold none).
const defaultMaxInFlight = 1 << 14

// Default returns the process-wide Ring, created on first use with one shard
// per GOMAXPROCS and room for 16384 requests in flight per shard, fewer or
// smaller shards where RLIMIT_MEMLOCK holds fewer (see Option). The fs and
// net packages use it unless given another. It is never closed.
func Default() (*Ring, error) {
	defaultOnce.Do(func() {
		defaultRing, defaultErr = New(WithMaxInFlight(defaultMaxInFlight))
	})
	return defaultRing, defaultErr
}
