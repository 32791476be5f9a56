package uring

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// freeList is a shard's set of idle request slots: a lock-free stack (a
// tagged head defeats ABA) for the hot path, with a mutex and a broadcast
// channel only for callers that find it empty. Waiting callers select on
// that channel and their context, so a slot wait ends with the context.
type freeList struct {
	head  atomic.Uint64  // tag<<32 | (index+1); index part 0 means empty
	next  []atomic.Int32 // next[i]: index+1 of the slot below i, 0 at the bottom
	nfree atomic.Int32
	// fresh is the lowest index never handed out: an empty stack hands it
	// out next, so the stack and next[] hold only slots used once, and a
	// table sized for many requests touches no memory for the rest.
	fresh atomic.Int32
	n     int32

	waiters atomic.Int32
	mu      sync.Mutex
	changed chan struct{} // closed and replaced by a push while waiters > 0
	closing chan struct{} // closed by shutdown
	// batchTurn is held by one multi-slot acquisition at a time, so no two
	// batches each hold half of what both need.
	batchTurn chan struct{}
}

func (f *freeList) init(n int) {
	f.next = make([]atomic.Int32, n)
	f.changed = make(chan struct{})
	f.closing = make(chan struct{})
	f.batchTurn = make(chan struct{}, 1)
	f.n = int32(n)
	f.nfree.Store(int32(n))
}

var errShutdown = errors.New("uring: slot table shut down")

// pop takes a free slot, or reports false when there is none.
func (f *freeList) pop() (int32, bool) {
	for {
		old := f.head.Load()
		top := int32(uint32(old))
		if top == 0 {
			return f.popFresh()
		}
		below := f.next[top-1].Load()
		if f.head.CompareAndSwap(old, (old>>32+1)<<32|uint64(uint32(below))) {
			f.nfree.Add(-1)
			return top - 1, true
		}
	}
}

// popFresh hands out the lowest index never used, if any is left.
func (f *freeList) popFresh() (int32, bool) {
	for {
		i := f.fresh.Load()
		if i >= f.n {
			return 0, false
		}
		if f.fresh.CompareAndSwap(i, i+1) {
			f.nfree.Add(-1)
			return i, true
		}
	}
}

// push returns slot idx and wakes a caller waiting for one.
func (f *freeList) push(idx int32) {
	for {
		old := f.head.Load()
		f.next[idx].Store(int32(uint32(old)))
		if f.head.CompareAndSwap(old, (old>>32+1)<<32|uint64(uint32(idx+1))) {
			break
		}
	}
	f.nfree.Add(1)
	if f.waiters.Load() > 0 {
		f.mu.Lock()
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// waitFor blocks until ready reports true, ctx ends (its error is returned)
// or the list shuts down (nil: the caller then finds its shard closed). A
// waiter registers, then tries again, and only then sleeps, so no push is
// missed.
func (f *freeList) waitFor(ctx context.Context, ready func() bool) error {
	f.waiters.Add(1)
	defer f.waiters.Add(-1)
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if ready() {
			return nil
		}
		select {
		case <-ch:
		case <-f.closing:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// takeTurn waits for the batch turn, ctx or shutdown.
func (f *freeList) takeTurn(ctx context.Context) error {
	select {
	case f.batchTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-f.closing:
		return errShutdown
	}
}

func (f *freeList) endTurn() { <-f.batchTurn }

// shutdown rouses every waiter for good (Close).
func (f *freeList) shutdown() {
	f.mu.Lock()
	select {
	case <-f.closing:
	default:
		close(f.closing)
	}
	f.mu.Unlock()
}
