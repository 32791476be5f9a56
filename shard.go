package uring

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// A shard is one io_uring instance with its request slots: submission in
// submit.go, completion in complete.go and completer.go, the slot table in
// slot.go.
type shard struct {
	ring  *Ring
	id    int32
	k     *kernelRing
	probe Probe

	// state is the shard's lifecycle (shardOpen ... shardFreed); it only
	// moves forward.
	state  atomic.Int32
	broken atomic.Pointer[error] // a fatal enter error: every new call fails with it

	// Submission: guarded by mu.
	mu         sync.Mutex
	space      sync.Cond // staging has room again
	spaceWait  int
	staging    [2]unsafe.Pointer // C arrays of stageCap SQEs, double-buffered
	cur        int
	staged     int
	stageCap   int
	submitting bool

	// Completion: cqMu serialises reaping; cqes is its C buffer.
	cqMu      sync.Mutex
	cqes      unsafe.Pointer
	cqeCap    int
	completer completer
	// reapPending: a completer found cqMu held; its holder reaps again
	// after unlocking.
	reapPending atomic.Bool

	// Requests: slots[i] is request i; free lists the idle ones.
	slots   slotTable
	scratch unsafe.Pointer // C memory: one scratchArea per slot
	free    freeList
	drained chan struct{} // signalled on release while closing

	inflight atomic.Int64 // SQEs submitted whose final CQE is not yet reaped
	woken    atomic.Int32 // waiters woken by dispatch that have not run yet

	cbs callbacks

	nSubmitted, nCompleted, nSlotWaits, nForeign atomic.Uint64
	nSQWaits                                     atomic.Uint64 // callers that found the submission queue full
	nParks                                       atomic.Uint64 // waits that parked the caller
	statsMu                                      sync.Mutex    // the kernel counters, and the move to shardFreed
	final                                        kernelCounters
}

// A shard's lifecycle.
const (
	shardOpen    int32 = iota // taking requests
	shardClosing              // Close began: no new requests; those in flight are cancelled
	shardStopped              // nothing in flight, the completer stopped: nothing more is staged
	shardFreed                // the kernel ring is freed (under statsMu)
)

// closing reports whether Close has begun on the shard.
func (s *shard) closing() bool { return s.state.Load() >= shardClosing }

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
		drained: make(chan struct{}, 1)}
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
	s.slots.init(n)
	s.scratch = cAlloc(n * scratchSize)
	s.free.init(n)
	c, err := newPoller(s)
	if err != nil {
		k.close()
		return nil, err
	}
	s.completer = c
	return s, nil
}

// admit checks that the shard can take op: a valid op, a usable ring, an
// opcode the kernel has, and a multishot op only where one is allowed.
func (s *shard) admit(op *ops.Op, multishot bool) error {
	if err := op.Err(); err != nil {
		return err
	}
	if e := s.broken.Load(); e != nil {
		return *e
	}
	if !s.probe.supported[op.Opcode] {
		return &UnsupportedError{What: "operation " + op.Opcode.String()}
	}
	if !multishot && op.Multishot() {
		return ErrMultishot
	}
	return nil
}

// close cancels everything, waits for every request to finish, and frees the
// kernel ring. self is the goroutine calling Close.
func (s *shard) close(self uint64) {
	s.mu.Lock()
	if s.closing() {
		s.mu.Unlock()
		return
	}
	s.state.Store(shardClosing)
	s.space.Broadcast()
	s.mu.Unlock()
	s.free.shutdown()

	// Cancel all in flight; repeat while requests remain, in case one was
	// submitted after a cancel swept by.
	cancelAll := sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, opFlags: ops.CancelAny | ops.CancelAll}
	for !s.idle() {
		s.submitInternal(cancelAll)
		select {
		case <-s.drained:
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Wait for our own cancels' completions, then stop the completer.
	for s.inflight.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	s.completer.stop()
	s.cbs.shutdown(self)
	s.mu.Lock()
	s.state.Store(shardStopped)
	// A late cancel staged just before that may still be on its way into
	// the kernel: the ring must outlive that submitter.
	for s.submitting {
		s.mu.Unlock()
		time.Sleep(50 * time.Microsecond)
		s.mu.Lock()
	}
	s.mu.Unlock()
	s.statsMu.Lock()
	s.final = s.k.counters()
	s.k.close()
	s.state.Store(shardFreed)
	s.statsMu.Unlock()
	cFree(s.staging[0])
	cFree(s.staging[1])
	cFree(s.cqes)
	cFree(s.scratch)
}

func (s *shard) addStats(st *Stats) {
	s.statsMu.Lock()
	kc := s.final
	if s.state.Load() != shardFreed {
		kc = s.k.counters()
	}
	s.statsMu.Unlock()
	st.Submitted += s.nSubmitted.Load()
	st.Completed += s.nCompleted.Load()
	st.InFlight += s.inflight.Load()
	st.Batches += kc.submits
	st.Enters += kc.enters
	st.TaskrunEnters += kc.taskrun
	st.SQFullWaits += kc.sqFull + s.nSQWaits.Load()
	st.SlotWaits += s.nSlotWaits.Load()
	st.CQOverflows += kc.cqOverflows
	st.KernelDrops += kc.drops
	st.Foreign += s.nForeign.Load()
	st.Parks += s.nParks.Load()
	st.Wakeups += s.completer.wakeups()
}

// kernelCounters are the C side's counts for one kernel ring.
type kernelCounters struct {
	submits     uint64 // io_uring_submit calls
	enters      uint64 // io_uring_enter system calls of every kind
	taskrun     uint64 // enters made because IORING_SQ_TASKRUN was set
	sqFull      uint64
	cqOverflows uint64
	drops       uint64
}
