package uring

import (
	"sync"
	"sync/atomic"
)

// freeList is a shard's set of idle request slots: a lock-free stack (a
// tagged head defeats ABA) for the hot path, with a mutex and condition
// variable only for callers that find it empty.
type freeList struct {
	head  atomic.Uint64  // tag<<32 | (index+1); index part 0 means empty
	next  []atomic.Int32 // next[i]: index+1 of the slot below i, 0 at the bottom
	nfree atomic.Int32

	waiters atomic.Int32
	mu      sync.Mutex
	cond    sync.Cond
	batchMu sync.Mutex // one multi-slot acquisition at a time: no two batches each hold half
}

func (f *freeList) init(n int) {
	f.next = make([]atomic.Int32, n)
	f.cond.L = &f.mu
	for i := n - 1; i >= 0; i-- {
		f.push(int32(i))
	}
}

// pop takes a free slot, or reports false when there is none.
func (f *freeList) pop() (int32, bool) {
	for {
		old := f.head.Load()
		top := int32(uint32(old))
		if top == 0 {
			return 0, false
		}
		below := f.next[top-1].Load()
		if f.head.CompareAndSwap(old, (old>>32+1)<<32|uint64(uint32(below))) {
			f.nfree.Add(-1)
			return top - 1, true
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
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// wait blocks until a push or wake may have changed things. Callers loop:
// register as a waiter, try again, and only then sleep, so no push is missed.
func (f *freeList) waitFor(ready func() bool) {
	f.mu.Lock()
	f.waiters.Add(1)
	for !ready() {
		f.cond.Wait()
	}
	f.waiters.Add(-1)
	f.mu.Unlock()
}

// wake rouses every waiter (Close).
func (f *freeList) wake() {
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
}
