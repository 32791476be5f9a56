package uring

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/goaio/uring/ops"
)

type slotMode uint8

const (
	modeWait     slotMode = iota // a goroutine blocks on done
	modeCallback                 // run cb with the result
	modeFuture                   // fill fut and close its channel
	modeStream                   // push every CQE to stream
)

// slot is the Go side of one request. Its index and generation form the
// request's user_data (userdata.go).
type slot struct {
	gen  atomic.Uint32
	busy atomic.Bool // published after setup: dispatch reads the slot only when set
	idx  int32
	mode slotMode

	gotFirst bool // a CQE with IORING_CQE_F_MORE arrived (zero-copy send)
	counted  bool // dispatch counted this waiter in shard.woken
	pinned   bool

	done chan struct{} // modeWait: one token per completion

	res      int32
	flags    uint32
	msgFlags int32
	oobn     int32

	kind     ops.ArgKind    // what prepare built in C memory
	selfDone bool           // the waiter itself reaped its completion: no token in done
	pin      runtime.Pinner // pins, and keeps reachable, the Go memory the kernel uses
	cmem     unsafe.Pointer // C memory for paths and long iovec arrays
	cmem2    unsafe.Pointer
	ctx      context.Context // a cancelled request reports ctx.Err() instead of ECANCELED
	deadline time.Time       // a linked timeout bounds the request
	after    *afterCancel

	raceAddr  unsafe.Pointer // -race only: the buffer the kernel accessed
	raceLen   int
	raceWrite bool

	cb   func(Result, error)
	fut  *Future
	sink Sink // modeStream: every CQE goes here

	_ [slotPad]byte // a whole number of cache lines: neighbours never share one
}

const slotPad = 192 - 176 // slot_test.go checks the size

// waitable gives the slot its done channel on its first wait: a slot that
// only ever holds multishot requests (an accept or receive armed for a
// long time) never needs one.
func (sl *slot) waitable() {
	if sl.done == nil {
		sl.done = make(chan struct{}, 1)
	}
}

func (sl *slot) reset() {
	sl.mode = modeWait
	sl.gotFirst, sl.counted = false, false
	sl.res, sl.flags, sl.msgFlags, sl.oobn = 0, 0, 0, 0
	sl.kind = ops.ArgNone
	sl.selfDone = false
	sl.ctx = nil
	sl.raceAddr = nil
	sl.deadline = time.Time{}
	sl.cb, sl.fut, sl.sink, sl.after = nil, nil, nil, nil
	sl.busy.Store(false)
}

func (sl *slot) pinPtr(p unsafe.Pointer) {
	sl.pin.Pin(p)
	sl.pinned = true
}

func (sl *slot) unpin() {
	if sl.pinned {
		sl.pin.Unpin()
		sl.pinned = false
	}
}

// The slot table: s.slots.get(i) is request i, s.free lists the idle ones.

// slotTable holds a shard's request slots in chunks made on first use. The
// free list hands out low indices first, so a table sized for many requests
// in flight (the Default Ring's 16384 per shard, 3 MiB) costs only the
// chunks a load reaches: made up front, it was live heap from the start,
// and the GC's goal let garbage grow by as much again (issue 25, idle
// connections).
type slotTable struct {
	n      int
	chunks []atomic.Pointer[[slotChunk]slot]
}

const (
	slotChunkShift = 7
	slotChunk      = 1 << slotChunkShift
)

func (t *slotTable) init(n int) {
	t.n = n
	t.chunks = make([]atomic.Pointer[[slotChunk]slot], (n+slotChunk-1)/slotChunk)
}

// get returns slot i, making its chunk on first use.
func (t *slotTable) get(i int32) *slot {
	p := &t.chunks[i>>slotChunkShift]
	c := p.Load()
	if c == nil {
		c = new([slotChunk]slot)
		if !p.CompareAndSwap(nil, c) {
			c = p.Load()
		}
	}
	return &c[i&(slotChunk-1)]
}

// at returns slot i, or nil while no request has reached its chunk.
func (t *slotTable) at(i int32) *slot {
	c := t.chunks[i>>slotChunkShift].Load()
	if c == nil {
		return nil
	}
	return &c[i&(slotChunk-1)]
}

// acquire takes a free slot, waiting while all are in use until one frees,
// ctx ends or the shard closes.
func (s *shard) acquire(ctx context.Context) (int32, *slot, error) {
	idx, ok := s.free.pop()
	if !ok {
		s.nSlotWaits.Add(1)
		err := s.free.waitFor(ctx, func() bool {
			idx, ok = s.free.pop()
			return ok || s.closing()
		})
		if err != nil {
			return 0, nil, err
		}
	}
	if s.closing() {
		if ok {
			s.free.push(idx)
		}
		return 0, nil, ErrClosed
	}
	sl := s.slotFor(idx)
	sl.gen.Store((sl.gen.Load() + 1) & genMask)
	return idx, sl, nil
}

// slotFor returns slot idx for a new request.
func (s *shard) slotFor(idx int32) *slot {
	sl := s.slots.get(idx)
	sl.idx = idx
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
				return s.closing()
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
	if err == nil && s.closing() {
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
	sl := s.slots.get(idx)
	sl.reset()
	s.free.push(idx)
	if s.closing() {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}

// userData is the request ID of sl's current request.
func (s *shard) userData(sl *slot) uint64 { return requestID(s.id, sl.gen.Load(), sl.idx) }

// slotByID returns the busy slot whose current request is ud, or nil for
// an ID that names no request of this shard (a stale or foreign one).
func (s *shard) slotByID(ud uint64) *slot {
	idx := slotOf(ud)
	if idx < 0 || int(idx) >= s.slots.n {
		return nil
	}
	sl := s.slots.at(idx)
	if sl == nil || !sl.busy.Load() || s.userData(sl) != ud {
		return nil
	}
	return sl
}

// idle reports whether every slot is free.
func (s *shard) idle() bool {
	return int(s.free.nfree.Load()) == s.slots.n
}
