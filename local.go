package uring

import (
	"errors"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// LocalRing is an io_uring owned by one goroutine locked to its OS thread:
// the one that called NewLocalRing. Only that goroutine may call its
// methods. It is what an event loop is built on (package loop): the ring is
// set up with SINGLE_ISSUER and DEFER_TASKRUN, so the kernel runs its task
// work only when the owner enters to wait, on the owner's thread, and the
// owner fills SQEs and reads CQEs in the mapped rings itself, with no lock
// and no cgo call: one io_uring_enter system call per Enter.
//
// Two kinds of operation share it:
//   - Submit takes any ops.Op with a callback, with the Ring's safety: the
//     Go memory the op names is pinned and its C-memory arguments live until
//     the op's last completion, and the callback runs from Reap on the owner's
//     goroutine.
//   - Prep stages an op whose memory the owner keeps valid itself (C memory,
//     or Go memory it pinned), under a user_data of its own choosing below
//     LocalTagLimit; Reap hands its completions to the owner's function.
//
// Close cancels whatever is still in flight and waits for it, so no
// completion writes memory after its callback ran.
type LocalRing struct {
	k       *kernelRing
	v       localView
	tail    uint32 // the next SQE the owner fills; published to the kernel by Enter
	reqs    []*localChunk
	free    []int32
	out     int  // Submit requests in flight
	closing bool // Close is draining: Submit refuses new requests
	closed  bool
	owned   []ownedMem // Alloc's memory, freed by Close
}

// ownedMem is a block of C memory Alloc handed out: ops naming it need no
// pin.
type ownedMem struct {
	base     unsafe.Pointer // what cAlloc returned
	from, to uintptr        // the block as handed out
}

// localView is where the owner finds the mapped rings (uring_local_init).
type localView struct {
	sqes              unsafe.Pointer
	sqHead, sqTail    *uint32
	sqMask, sqEntries uint32
	cqes              unsafe.Pointer
	cqHead, cqTail    *uint32
	cqMask            uint32
	enterFd           int
	enterFlags        uint32
}

// localChunk is 128 request slots and their scratch, made on first use.
type localChunk struct {
	slots   [slotChunk]slot
	cb      [slotChunk]func(Result)
	scratch unsafe.Pointer // C memory, slotChunk × scratchSize
}

// A LocalRing's user_data: bit 63 marks a Submit request (generation and
// slot as userdata.go lays them out), bit 62 the ring's own cancels, whose
// completions nobody waits for. Values below LocalTagLimit are the owner's.
const (
	localRequest  = uint64(1) << 63
	localInternal = uint64(1) << 62
	// LocalTagLimit bounds the user_data an owner gives Prep.
	LocalTagLimit = localInternal

	enterGetEvents = 1 // IORING_ENTER_GETEVENTS
)

// NewLocalRing creates a ring of entries SQEs (and cqEntries CQEs, or four
// times entries when 0) owned by the calling goroutine, which must be locked
// to its OS thread (runtime.LockOSThread) for the ring's life.
func NewLocalRing(entries, cqEntries int) (*LocalRing, error) {
	if err := checkKernel(); err != nil {
		return nil, err
	}
	if entries <= 0 {
		entries = 256
	}
	if cqEntries <= 0 {
		cqEntries = 4 * entries
	}
	k, v, err := newLocalKernelRing(uint32(entries), uint32(cqEntries))
	if err != nil {
		return nil, setupError(err)
	}
	return &LocalRing{k: k, v: v, tail: atomic.LoadUint32(v.sqTail)}, nil
}

// sqe returns the next free SQE, entering to submit first when the SQ is full.
func (r *LocalRing) sqe() (*sqe, error) {
	if r.closed {
		return nil, ErrClosed // the rings are unmapped
	}
	if r.tail-atomic.LoadUint32(r.v.sqHead) >= r.v.sqEntries {
		if err := r.enter(0); err != nil {
			return nil, err
		}
		if r.tail-atomic.LoadUint32(r.v.sqHead) >= r.v.sqEntries {
			return nil, syscall.EBUSY
		}
	}
	e := (*sqe)(unsafe.Add(r.v.sqes, uintptr(r.tail&r.v.sqMask)*uintptr(sqeSize)))
	r.tail++
	return e, nil
}

// Prep stages op under user_data ud (below LocalTagLimit). The kernel uses
// the memory op names until its last completion: it must be C memory or Go
// memory the caller pinned, and op may not need C-memory arguments
// (op.Kind ArgNone, no Str). Its completions reach the owner's function
// given to Reap.
func (r *LocalRing) Prep(op *ops.Op, ud uint64) error {
	if ud >= LocalTagLimit {
		return errors.New("uring: LocalRing.Prep: user_data at or above LocalTagLimit")
	}
	if op.Kind != ops.ArgNone || op.Str != [3]string{} {
		return errors.New("uring: LocalRing.Prep: an op with C-memory arguments needs Submit")
	}
	if err := op.Err(); err != nil {
		return err
	}
	e, err := r.sqe()
	if err != nil {
		return err
	}
	*e = sqe{opcode: uint8(op.Opcode), flags: op.Flags, ioprio: op.IoPrio, fd: op.Fd, off: op.Off,
		addr: op.AddrVal, len: op.Len, opFlags: op.OpFlags, userData: ud, bufIndex: op.BufIndex,
		personality: op.Personality, spliceFdIn: op.SpliceFdIn}
	if op.Addr != nil {
		e.addr = uint64(uintptr(op.Addr))
	}
	if op.Addr2 != nil {
		e.off = uint64(uintptr(op.Addr2))
	}
	if op.Addr3 != nil {
		e.addr3 = uint64(uintptr(op.Addr3))
	}
	return nil
}

// Submit stages op; cb runs on the owner's goroutine, from Reap, with each
// of its completions (a multishot op's until one without
// ops.CQEFlagMore). It returns the request's ID, for Cancel.
func (r *LocalRing) Submit(op ops.Op, cb func(Result)) (uint64, error) {
	if r.closing || r.closed {
		// A callback that submits again on its own completion (a ticker)
		// would keep Close's drain going forever.
		return 0, ErrClosed
	}
	if err := op.Err(); err != nil {
		return 0, err
	}
	if op.Addr != nil && len(r.owned) > 0 && r.isOwned(op.Addr) {
		// C memory that outlives the request: named by value, not pinned.
		op.AddrVal, op.Addr = uint64(uintptr(op.Addr)), nil
	}
	idx := r.takeSlot()
	c := r.reqs[idx>>slotChunkShift]
	sl := &c.slots[idx&(slotChunk-1)]
	gen := (sl.gen.Load() + 1) & genMask
	sl.gen.Store(gen)
	ud := localRequest | requestID(0, gen, idx)
	e, err := r.sqe()
	if err == nil {
		err = encodeOp(e, sl, r.scratchOf(c, idx), ud, &op)
		if err != nil {
			r.tail-- // the SQE was not published: take it back
		}
	}
	if err != nil {
		sl.cleanup(r.scratchOf(c, idx))
		sl.reset()
		r.free = append(r.free, idx)
		return 0, err
	}
	c.cb[idx&(slotChunk-1)] = cb
	sl.busy.Store(true)
	r.out++
	return ud, nil
}

// Alloc returns n bytes of page-aligned, zeroed C memory that lives until
// Close. The kernel may use it at any time, so an op naming it (op.Addr) is
// submitted without pinning: for buffers a loop reuses op after op, that
// pin and unpin is most of the Go side's cost per op. It suits O_DIRECT.
func (r *LocalRing) Alloc(n int) ([]byte, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if n <= 0 {
		return nil, errors.New("uring: LocalRing.Alloc: size must be positive")
	}
	const page = 4096
	base := cAlloc(n + page)
	if base == nil {
		return nil, syscall.ENOMEM
	}
	from := (uintptr(base) + page - 1) &^ (page - 1)
	r.owned = append(r.owned, ownedMem{base: base, from: from, to: from + uintptr(n)})
	return unsafe.Slice((*byte)(unsafe.Add(base, from-uintptr(base))), n), nil
}

// RegisterFiles registers fds as the ring's file table: an op with
// ops.FlagFixedFile names fds[i] by i, and the kernel skips taking a
// reference to the file per op (an atomic shared by every thread using
// the file). UnregisterFiles, or Close, drops them.
func (r *LocalRing) RegisterFiles(fds []int) error {
	if r.closed {
		return ErrClosed
	}
	if len(fds) == 0 {
		return errors.New("uring: LocalRing.RegisterFiles: no descriptors")
	}
	t := make([]int32, len(fds))
	for i, fd := range fds {
		t[i] = int32(fd)
	}
	return r.k.registerFiles(t)
}

// UnregisterFiles drops the file table RegisterFiles made; ops using it
// must be done.
func (r *LocalRing) UnregisterFiles() error {
	if r.closed {
		return ErrClosed
	}
	return r.k.unregisterFiles()
}

// isOwned reports whether p lies in memory Alloc handed out.
func (r *LocalRing) isOwned(p unsafe.Pointer) bool {
	a := uintptr(p)
	for i := range r.owned {
		if m := &r.owned[i]; a >= m.from && a < m.to {
			return true
		}
	}
	return false
}

// takeSlot returns a free request slot, making a chunk when none is left.
func (r *LocalRing) takeSlot() int32 {
	if n := len(r.free); n > 0 {
		idx := r.free[n-1]
		r.free = r.free[:n-1]
		return idx
	}
	base := int32(len(r.reqs)) << slotChunkShift
	c := &localChunk{scratch: cAlloc(slotChunk * scratchSize)}
	if c.scratch == nil {
		panic("uring: LocalRing: out of C memory")
	}
	for i := range c.slots {
		c.slots[i].idx = base + int32(i)
	}
	r.reqs = append(r.reqs, c)
	for i := int32(slotChunk - 1); i > 0; i-- {
		r.free = append(r.free, base+i)
	}
	return base
}

func (r *LocalRing) scratchOf(c *localChunk, idx int32) *scratchArea {
	return (*scratchArea)(unsafe.Add(c.scratch, int(idx&(slotChunk-1))*scratchSize))
}

// Cancel asks the kernel to cancel the op staged under user_data ud (a
// Submit ID or a Prep tag). The op still completes, with ECANCELED or its
// result, and its callback runs as usual.
func (r *LocalRing) Cancel(ud uint64) error {
	e, err := r.sqe()
	if err != nil {
		return err
	}
	*e = sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, addr: ud, userData: localInternal}
	return nil
}

// Pending is the number of Submit requests in flight.
func (r *LocalRing) Pending() int { return r.out }

// Closing reports whether Close has begun: a callback that would submit
// again can stop.
func (r *LocalRing) Closing() bool { return r.closing || r.closed }

// Staged is the number of SQEs staged since the last Enter.
func (r *LocalRing) Staged() int {
	if r.closed {
		return 0
	}
	return int(r.tail - atomic.LoadUint32(r.v.sqTail))
}

// Enter submits what is staged and, with wait, sleeps until a completion is
// ready. It runs the ring's deferred task work either way, so completions
// are posted only here. An interrupted wait returns nil: Reap and enter again.
func (r *LocalRing) Enter(wait bool) error {
	// First without sleeping: submit and run the task work. Under load that
	// posts completions and no second call is needed; the one that sleeps
	// goes through the scheduler and costs more.
	if err := r.enter(0); err != nil || !wait {
		return err
	}
	if atomic.LoadUint32(r.v.cqTail) != *r.v.cqHead {
		return nil
	}
	return r.enter(1)
}

func (r *LocalRing) enter(min uint32) error {
	if r.closed {
		return ErrClosed
	}
	atomic.StoreUint32(r.v.sqTail, r.tail)
	submit := r.tail - atomic.LoadUint32(r.v.sqHead)
	e := enterRing(r.v.enterFd, submit, min, enterGetEvents|r.v.enterFlags)
	switch e {
	case 0, syscall.EINTR, syscall.EAGAIN, syscall.EBUSY:
		// EAGAIN and EBUSY: the CQ's overflow must drain first; Reap does.
		return nil
	}
	return e
}

// Reap runs the callbacks of every completion ready, hands the owner's own
// (Prep's) to own, and returns how many it took.
func (r *LocalRing) Reap(own func(ud uint64, res int32, flags uint32)) int {
	if r.closed {
		return 0
	}
	head := *r.v.cqHead
	tail := atomic.LoadUint32(r.v.cqTail)
	n := int(tail - head)
	for ; head != tail; head++ {
		c := (*cqe)(unsafe.Add(r.v.cqes, uintptr(head&r.v.cqMask)*uintptr(cqeSize)))
		ud, res, flags := c.userData, c.res, c.flags
		switch {
		case ud&localRequest != 0:
			atomic.StoreUint32(r.v.cqHead, head+1) // the callback may enter
			r.complete(ud, res, flags)
		case ud&localInternal != 0:
		default:
			atomic.StoreUint32(r.v.cqHead, head+1)
			own(ud, res, flags)
		}
	}
	atomic.StoreUint32(r.v.cqHead, head)
	return n
}

// complete runs request ud's callback, releasing the request first when
// this is its last completion.
func (r *LocalRing) complete(ud uint64, res int32, flags uint32) {
	idx := slotOf(ud &^ localRequest)
	c := r.reqs[idx>>slotChunkShift]
	i := idx & (slotChunk - 1)
	sl := &c.slots[i]
	if !sl.busy.Load() || requestID(0, sl.gen.Load(), idx) != ud&^localRequest {
		return
	}
	cb := c.cb[i]
	out := Result{Res: res, Flags: flags}
	if flags&ops.CQEFlagMore == 0 {
		sl.cleanup(r.scratchOf(c, idx))
		out.MsgFlags, out.OOBN = sl.msgFlags, sl.oobn
		sl.reset()
		c.cb[i] = nil
		r.free = append(r.free, idx)
		r.out--
	}
	if cb != nil {
		cb(out)
	}
}

// Close cancels every op in flight, the owner's included, reaps until the
// Submit requests are done and ownerIdle says the owner has nothing left in
// flight (own gets the owner's completions meanwhile), and frees the ring.
// Buffers registered with it must be freed first. Like every method, it
// runs on the owner's goroutine.
func (r *LocalRing) Close(own func(ud uint64, res int32, flags uint32), ownerIdle func() bool) error {
	if r.closed {
		return ErrClosed
	}
	r.closing = true
	for r.out > 0 || !ownerIdle() {
		e, err := r.sqe()
		if err != nil {
			return err
		}
		*e = sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, opFlags: ops.CancelAny | ops.CancelAll, userData: localInternal}
		if err := r.enter(1); err != nil {
			return err
		}
		r.Reap(own)
	}
	r.closed = true
	r.k.close()
	for _, c := range r.reqs {
		cFree(c.scratch)
	}
	r.reqs = nil
	for _, m := range r.owned {
		cFree(m.base)
	}
	r.owned = nil
	return nil
}

// NewBuffers registers a provided-buffer ring of entries buffers of size
// bytes as group, in C memory: the kernel picks from it for ops with
// ops.FlagBufferSelect. With incremental, where the kernel has it (Linux
// 6.12; EINVAL before), a buffer is consumed a completion at a time
// (IOU_PBUF_RING_INC): a completion with CQEFlagBufMore leaves the rest of
// its buffer for the next, and Take says where each one's bytes are.
func (r *LocalRing) NewBuffers(entries, size int, group uint16, incremental bool) (*LocalBuffers, error) {
	if r.closed {
		return nil, ErrClosed
	}
	var flags uint16
	if incremental {
		flags = pbufRingInc
	}
	b, err := r.k.newBufRing(entries, size, group, flags)
	if err != nil {
		return nil, err
	}
	lb := &LocalBuffers{b: b, r: r}
	if incremental {
		lb.off = make([]int32, entries)
	}
	return lb, nil
}

const (
	pbufRingInc = 2 // IOU_PBUF_RING_INC
	// CQEFlagBufMore says an incrementally consumed buffer has more room:
	// it is not the owner's to recycle yet (IORING_CQE_F_BUF_MORE).
	CQEFlagBufMore = 1 << 4
)

// LocalBuffers is a LocalRing's provided-buffer ring.
type LocalBuffers struct {
	b   *cBufRing
	r   *LocalRing
	off []int32 // incremental: where each buffer's next bytes start
}

// Incremental reports whether the kernel consumes buffers incrementally.
func (b *LocalBuffers) Incremental() bool { return b.off != nil }

// Take returns the n bytes a completion with flags delivered (C memory,
// valid until the buffer is recycled), and whether its buffer is done,
// to be recycled once the bytes are used.
func (b *LocalBuffers) Take(flags uint32, n int) (data []byte, bid uint16, done bool) {
	bid = uint16(flags >> 16)
	if b.off == nil {
		return b.b.bytes(bid, n), bid, true
	}
	off := int(b.off[bid])
	data = b.b.bytesAt(bid, off, n)
	if flags&CQEFlagBufMore != 0 {
		b.off[bid] = int32(off + n)
		return data, bid, false
	}
	b.off[bid] = 0
	return data, bid, true
}

// Recycle hands buffer bid back to the kernel.
func (b *LocalBuffers) Recycle(bid uint16) { b.b.recycle(bid) }

// Free unregisters the buffers and frees them; before the ring's Close.
func (b *LocalBuffers) Free() {
	k := b.r.k
	if b.r.closed {
		k = nil
	}
	b.b.free(k)
	b.b = nil
}
