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
// request's user_data, so no Go pointer ever reaches the kernel as a token.
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
