package uring

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// A shard is one io_uring instance with its request slots.
//
// Submission is combined: a caller stages its SQE under mu, and the caller
// that finds no submitter active becomes the submitter; it submits everything
// staged (its own and others') in one cgo crossing, reaps what completed
// inline in the same crossing, and loops until nothing is staged. Completions
// that arrive later are reaped by the shard's reaper goroutine, which blocks in
// the kernel only while requests are in flight.
type shard struct {
	ring  *Ring
	id    int32
	k     *kernelRing
	probe Probe

	// Submission: guarded by mu.
	mu         sync.Mutex
	space      sync.Cond // staging has room again
	spaceWait  int
	staging    [2]unsafe.Pointer // C arrays of stageCap SQEs, double-buffered
	cur        int
	staged     int
	stageCap   int
	submitting bool
	noReap     bool // the staged batch holds a wake-up the reaper must see
	dead       bool // the kernel ring is closed: nothing more may be staged
	closed     atomic.Bool
	broken     atomic.Pointer[error] // a fatal enter error: every new call fails with it

	// Completion: cqMu serialises reaping; cqes is its C buffer.
	cqMu   sync.Mutex
	cqes   unsafe.Pointer
	cqeCap int

	// Requests: slots[i] is request i; free lists the idle ones.
	slots   []slot
	scratch unsafe.Pointer // C memory: one scratchArea per slot
	free    freeList
	drained chan struct{} // signalled on release while closing

	inflight atomic.Int64 // SQEs submitted whose final CQE is not yet reaped
	woken    atomic.Int32 // waiters woken by dispatch that have not run yet

	reaperSleeping atomic.Int32
	reaperWake     chan struct{}
	reaperDone     chan struct{}
	stopping       atomic.Bool

	cbs callbacks

	nSubmitted, nCompleted, nSlotWaits, nForeign atomic.Uint64
	nSQWaits                                     atomic.Uint64 // callers that found the submission queue full
	statsMu                                      sync.Mutex
	final                                        [4]uint64 // kernel counters at close
	kclosed                                      bool
}

// user_data layout: shard<<54 | generation<<32 | slot index, the generation
// 22 bits wide. The shard makes a request ID name its shard, so that an op
// naming another request (a cancel, a poll or timeout removal) is routed to
// the ring that holds it. Bit 63 marks the ring's own requests
// (cancellations, link timeouts, wake-ups), whose completions only count
// down inflight; bit 62 (ops.MsgTag) marks messages from msg_ring, which
// belong to no request.
const (
	tagInternal = uint64(1) << 63
	tagMessage  = ops.MsgTag
	genMask     = 1<<22 - 1
	shardShift  = 54
	maxShards   = 256
)

// shardOf returns the shard index a request ID names.
func shardOf(ud uint64) int { return int(ud >> shardShift & (maxShards - 1)) }

func newShard(r *Ring, id int, cfg *config, wqFd int) (*shard, error) {
	flags := uint32(setupSubmitAll | setupClamp)
	idle := uint32(0)
	if cfg.sqPoll {
		flags |= setupSQPoll
		idle = uint32(cfg.sqIdle / time.Millisecond)
	}
	k, err := newKernelRing(cfg.entries, cfg.cqEntries, flags, idle, cfg.sqCPU, wqFd)
	if err != nil {
		return nil, setupError(err) // the floor (checkKernel) has SUBMIT_ALL and NODROP
	}
	s := &shard{ring: r, id: int32(id), k: k, stageCap: k.sqEntries, cqeCap: 256,
		reaperWake: make(chan struct{}, 1), reaperDone: make(chan struct{}), drained: make(chan struct{}, 1)}
	var sup [256]byte
	last := k.probe(sup[:])
	for i, v := range sup {
		s.probe.supported[i] = v != 0
	}
	s.probe.LastOp = ops.Opcode(last)
	s.space.L = &s.mu
	s.staging[0] = cAlloc(s.stageCap * sqeSize)
	s.staging[1] = cAlloc(s.stageCap * sqeSize)
	s.cqes = cAlloc(s.cqeCap * cqeSize)
	n := cfg.maxInflight
	if n <= 0 {
		n = k.cqEntries
	}
	// Slots are set up on first use (the free list hands out low indices
	// first) and the scratch is calloc'ed: a large table that is never
	// filled costs address space, not memory.
	s.slots = make([]slot, n)
	s.scratch = cAlloc(n * scratchSize)
	s.free.init(n)
	go s.reaper()
	return s, nil
}

// acquire takes a free slot, waiting while all are in use until one frees,
// ctx ends or the shard closes.
func (s *shard) acquire(ctx context.Context) (int32, *slot, error) {
	idx, ok := s.free.pop()
	if !ok {
		s.nSlotWaits.Add(1)
		err := s.free.waitFor(ctx, func() bool {
			idx, ok = s.free.pop()
			return ok || s.closed.Load()
		})
		if err != nil {
			return 0, nil, err
		}
	}
	if s.closed.Load() {
		if ok {
			s.free.push(idx)
		}
		return 0, nil, ErrClosed
	}
	sl := s.slotFor(idx)
	sl.gen.Store((sl.gen.Load() + 1) & genMask)
	return idx, sl, nil
}

// slotFor returns slot idx for a new request, setting it up on first use.
func (s *shard) slotFor(idx int32) *slot {
	sl := &s.slots[idx]
	if sl.done == nil {
		sl.done = make(chan struct{}, 1)
		sl.idx = idx
	}
	return sl
}

// acquireN takes len(idx) slots. Batches take turns, so two batches never
// each hold half of what both need; a wait ends with ctx or Close, and
// gives back what it took.
func (s *shard) acquireN(ctx context.Context, idx []int32) error {
	if err := s.free.takeTurn(ctx); err != nil {
		if err == errShutdown {
			return ErrClosed
		}
		return err
	}
	defer s.free.endTurn()
	got := 0
	take := func() bool {
		for got < len(idx) {
			i, ok := s.free.pop()
			if !ok {
				return s.closed.Load()
			}
			idx[got] = i
			got++
		}
		return true
	}
	var err error
	if !take() {
		s.nSlotWaits.Add(1)
		err = s.free.waitFor(ctx, take)
	}
	if err == nil && s.closed.Load() {
		err = ErrClosed
	}
	if err != nil {
		for _, i := range idx[:got] {
			s.free.push(i)
		}
		return err
	}
	for _, i := range idx {
		sl := s.slotFor(i)
		sl.gen.Store((sl.gen.Load() + 1) & genMask)
	}
	return nil
}

// release returns slot idx to the free list once its request is over: the
// kernel no longer uses any memory the request named.
func (s *shard) release(idx int32) {
	sl := &s.slots[idx]
	sl.reset()
	s.free.push(idx)
	if s.closed.Load() {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}

func (s *shard) userData(idx int32) uint64 {
	return uint64(s.id)<<shardShift | uint64(s.slots[idx].gen.Load())<<32 | uint64(uint32(idx))
}

// stage appends prepared SQEs to the staging buffer and makes sure a submitter
// will submit them: the caller becomes the submitter when none is active.
// Entries staged together are submitted together and in order (link chains).
func (s *shard) stage(entries []sqe, self int32) {
	s.mu.Lock()
	if s.dead {
		// Only a late cancel (a context ending after Close) gets here: its
		// target is long complete and the kernel ring is gone.
		s.mu.Unlock()
		return
	}
	for s.staged+len(entries) > s.stageCap {
		s.nSQWaits.Add(1)
		s.spaceWait++
		s.space.Wait()
		s.spaceWait--
	}
	base := unsafe.Add(s.staging[s.cur], s.staged*sqeSize)
	copy(unsafe.Slice((*sqe)(base), len(entries)), entries)
	s.staged += len(entries)
	s.flushLocked(self)
}

// flushLocked runs the submitter loop if no submitter is active. Called with
// mu held; returns with mu released.
func (s *shard) flushLocked(self int32) {
	if s.submitting {
		s.mu.Unlock()
		return
	}
	s.submitting = true
	yielded := false
	for s.staged > 0 {
		// Goroutines that a completion just woke usually submit again at
		// once: give them the processor first so their ops join this batch.
		if !yielded && s.woken.Load() > 0 {
			yielded = true
			s.mu.Unlock()
			runtime.Gosched()
			s.mu.Lock()
			continue
		}
		yielded = false
		buf, n, reap := s.staging[s.cur], s.staged, !s.noReap
		s.cur ^= 1
		s.staged = 0
		s.noReap = false
		if s.spaceWait > 0 {
			s.space.Broadcast()
		}
		s.mu.Unlock()
		s.submitBatch(buf, n, self, reap)
		s.mu.Lock()
	}
	s.submitting = false
	s.mu.Unlock()
}

// submitBatch hands n staged SQEs to the kernel in one crossing and, when
// reap is set and no one else is reaping, dispatches the completions that
// are ready on return.
func (s *shard) submitBatch(buf unsafe.Pointer, n int, self int32, reap bool) {
	s.inflight.Add(int64(n))
	s.nSubmitted.Add(uint64(n))
	var err error
	var withdrawn int
	if reap && s.cqMu.TryLock() {
		var got int
		got, withdrawn, err = s.k.submit(buf, n, s.cqes, s.cqeCap)
		s.dispatch(got, self)
		s.cqMu.Unlock()
	} else {
		_, withdrawn, err = s.k.submit(buf, n, nil, 0)
	}
	if err == syscall.EBADF || err == syscall.EOWNERDEAD {
		e := fmt.Errorf("%w: io_uring_enter: %w", ErrBroken, err)
		s.broken.CompareAndSwap(nil, &e)
	}
	if err != nil && withdrawn > 0 {
		// The enter failed for good and the SQEs the kernel did not take were
		// withdrawn from the SQ: complete exactly those with the error, so
		// no caller waits forever and none gets its memory back while the
		// kernel could still run its op. The rest of the batch was consumed
		// and completes through the CQ.
		s.failBatch(unsafe.Add(buf, (n-withdrawn)*sqeSize), withdrawn, err)
	}
	if s.inflight.Load() > 0 {
		s.wakeReaper()
	}
}

// failBatch completes the n staged requests at buf with err, as if the
// kernel had: only for SQEs that never reached it.
func (s *shard) failBatch(buf unsafe.Pointer, n int, err error) {
	en, _ := err.(syscall.Errno)
	if en == 0 {
		en = syscall.EIO
	}
	s.cqMu.Lock()
	out := unsafe.Slice((*cqe)(s.cqes), s.cqeCap)
	entries := unsafe.Slice((*sqe)(buf), n)
	for len(entries) > 0 {
		m := min(len(entries), len(out))
		for i := 0; i < m; i++ {
			out[i] = cqe{userData: entries[i].userData, res: -int32(en)}
		}
		s.dispatch(m, -1)
		entries = entries[m:]
	}
	s.cqMu.Unlock()
}

// reaper waits in the kernel for completions while requests are in flight,
// and parks (costing no thread) while none are.
func (s *shard) reaper() {
	defer close(s.reaperDone)
	for {
		if s.inflight.Load() <= 0 {
			if s.stopping.Load() {
				return
			}
			s.reaperSleeping.Store(1)
			if s.inflight.Load() > 0 || s.stopping.Load() {
				if !s.reaperSleeping.CompareAndSwap(1, 0) {
					<-s.reaperWake // a waker won the race; take its token
				}
				continue
			}
			<-s.reaperWake
			continue
		}
		if err := s.k.wait(); err != nil {
			time.Sleep(time.Millisecond) // should not happen; do not spin
		}
		s.cqMu.Lock()
		n := s.k.reap(s.cqes, s.cqeCap)
		s.dispatch(n, -1)
		s.cqMu.Unlock()
	}
}

func (s *shard) wakeReaper() {
	if s.reaperSleeping.Load() == 1 && s.reaperSleeping.CompareAndSwap(1, 0) {
		s.reaperWake <- struct{}{}
	}
}

// dispatch delivers n reaped completions from s.cqes. Called with cqMu held.
// self is the slot of the calling goroutine (not counted as woken), or -1.
func (s *shard) dispatch(n int, self int32) {
	if n == 0 {
		return
	}
	s.nCompleted.Add(uint64(n))
	cqes := unsafe.Slice((*cqe)(s.cqes), n)
	for i := range cqes {
		c := &cqes[i]
		if c.userData&tagMessage != 0 {
			s.nForeign.Add(1)
			continue
		}
		if c.userData&tagInternal != 0 {
			s.inflight.Add(-1)
			continue
		}
		idx := int32(uint32(c.userData))
		if int(idx) >= len(s.slots) || idx < 0 {
			s.nForeign.Add(1)
			continue
		}
		sl := &s.slots[idx]
		if !sl.busy.Load() || s.userData(idx) != c.userData {
			s.nForeign.Add(1)
			continue
		}
		s.complete(idx, sl, c, self)
	}
}

// complete records one CQE for slot sl and wakes or notifies its owner.
func (s *shard) complete(idx int32, sl *slot, c *cqe, self int32) {
	more := c.flags&ops.CQEFlagMore != 0
	if sl.mode == modeStream {
		sink := sl.sink
		if !more {
			// Free the slot before the consumer learns the stream ended, so
			// that a finished Stream holds nothing.
			s.inflight.Add(-1)
			s.finishCleanup(sl)
			s.release(idx)
		}
		sink.Push(Result{Res: c.res, Flags: c.flags, shard: s.id}, !more)
		return
	}
	if more {
		// A zero-copy send's first CQE carries the result; the request ends
		// with the notification that follows.
		if !sl.gotFirst {
			sl.gotFirst = true
			sl.res, sl.flags = c.res, c.flags
		}
		return
	}
	if !sl.gotFirst || c.flags&ops.CQEFlagNotif == 0 {
		sl.res, sl.flags = c.res, c.flags
	}
	s.inflight.Add(-1)
	s.finishCleanup(sl)
	switch sl.mode {
	case modeWait:
		if idx == self {
			sl.selfDone = true
			return
		}
		sl.counted = true
		s.woken.Add(1)
		sl.done <- struct{}{}
	case modeCallback:
		res, err := s.outcome(sl)
		fn := sl.cb
		sl.after.finish()
		s.release(idx)
		s.cbs.push(callback{fn, res, err})
	case modeFuture:
		f := sl.fut
		f.res, f.err = s.outcome(sl)
		sl.after.finish()
		s.release(idx)
		close(f.done)
	}
}

// finishCleanup releases what a request held as soon as its final CQE is
// reaped: pins, C memory, and copies results out of the msghdr.
func (s *shard) finishCleanup(sl *slot) {
	if sl.kind == ops.ArgMsghdr {
		m := &s.scratchAt(sl).msg
		sl.msgFlags, sl.oobn = m.flags, int32(m.controllen)
	}
	if raceEnabled {
		raceKernelAccess(sl.raceAddr, sl.raceLen, sl.raceWrite)
	}
	sl.unpin()
	if sl.cmem != nil {
		cFree(sl.cmem)
		sl.cmem = nil
	}
	if sl.cmem2 != nil {
		cFree(sl.cmem2)
		sl.cmem2 = nil
	}
}

// outcome turns a finished slot into the call's result and error, following
// the standard library: ctx errors for cancelled calls, ErrClosed for calls
// cancelled by Close, syscall.Errno otherwise.
func (s *shard) outcome(sl *slot) (Result, error) {
	res := Result{Res: sl.res, Flags: sl.flags, MsgFlags: sl.msgFlags, OOBN: sl.oobn, shard: s.id}
	if sl.res >= 0 {
		return res, nil
	}
	en := syscall.Errno(-sl.res)
	if en == syscall.ECANCELED || en == syscall.EINTR {
		switch {
		case sl.ctx != nil && sl.ctx.Err() != nil:
			return res, sl.ctx.Err()
		case !sl.deadline.IsZero() && !time.Now().Before(sl.deadline):
			return res, errDeadline
		case s.closed.Load():
			return res, ErrClosed
		}
	}
	return res, errnoErr(en)
}

// submitInternal submits the ring's own request (a cancel or a wake-up).
// With reap false its batch is submitted without inline reaping, so the
// completion stays in the CQ for the reaper: that is what wakes it.
func (s *shard) submitInternal(e sqe, reap bool) {
	e.userData |= tagInternal
	entries := [1]sqe{e}
	if !reap {
		s.mu.Lock()
		s.noReap = true
		s.mu.Unlock()
	}
	s.stage(entries[:], -1)
}

// cancel asks the kernel to cancel request ud; the request still completes
// (with -ECANCELED if the cancel took hold) and its caller waits for that.
func (s *shard) cancel(ud uint64) {
	s.submitInternal(sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, addr: ud}, true)
}

// close cancels everything, waits for every request to finish, and frees the
// kernel ring.
func (s *shard) close(self uint64) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.closed.Store(true)
	s.space.Broadcast()
	s.mu.Unlock()
	s.free.shutdown()

	// Cancel all in flight; repeat while requests remain, in case one was
	// submitted after a cancel swept by.
	cancelAll := sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, opFlags: ops.CancelAny | ops.CancelAll}
	for !s.idle() {
		s.submitInternal(cancelAll, true)
		select {
		case <-s.drained:
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Wait for our own cancels' completions, then stop the reaper: a NOP whose
	// completion the reaper (and only it) reaps wakes it from the kernel.
	for s.inflight.Load() > 0 {
		s.wakeReaper()
		time.Sleep(time.Millisecond)
	}
	s.stopping.Store(true)
	s.submitInternal(sqe{opcode: uint8(ops.OpNop)}, false)
	s.wakeReaper()
	<-s.reaperDone
	s.cbs.shutdown(self)
	s.mu.Lock()
	s.dead = true
	// A late cancel staged just before dead was set may still be on its
	// way into the kernel: the ring must outlive that submitter.
	for s.submitting {
		s.mu.Unlock()
		time.Sleep(50 * time.Microsecond)
		s.mu.Lock()
	}
	s.mu.Unlock()
	s.statsMu.Lock()
	s.final[0], s.final[1], s.final[2], s.final[3] = s.k.counters()
	s.k.close()
	s.kclosed = true
	s.statsMu.Unlock()
	cFree(s.staging[0])
	cFree(s.staging[1])
	cFree(s.cqes)
	cFree(s.scratch)
}

// idle reports whether every slot is free.
func (s *shard) idle() bool {
	return int(s.free.nfree.Load()) == len(s.slots)
}

func (s *shard) addStats(st *Stats) {
	s.statsMu.Lock()
	enters, sqFull, cqOver, drops := s.final[0], s.final[1], s.final[2], s.final[3]
	if !s.kclosed {
		enters, sqFull, cqOver, drops = s.k.counters()
	}
	s.statsMu.Unlock()
	st.Submitted += s.nSubmitted.Load()
	st.Completed += s.nCompleted.Load()
	st.InFlight += s.inflight.Load()
	st.Batches += enters
	st.SQFullWaits += sqFull + s.nSQWaits.Load()
	st.SlotWaits += s.nSlotWaits.Load()
	st.CQOverflows += cqOver
	st.KernelDrops += drops
	st.Foreign += s.nForeign.Load()
}
