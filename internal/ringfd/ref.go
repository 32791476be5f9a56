package ringfd

import "sync/atomic"

// refcount counts a descriptor's calls in flight, so that Close can wait
// for them before closing it (the role of internal/poll's fdMutex) and an
// fd number is never reused under a running operation.
//
// The zero value is ready. The channel that wakes Close is made only by a
// Close that has calls to wait for: an idle connection holds none.
type refcount struct {
	state atomic.Int64                  // closedBit | calls in flight
	zero  atomic.Pointer[chan struct{}] // WaitZero's, once it waits
}

const closedBit = int64(1) << 62

// Incref takes a reference; false once the descriptor is closed.
func (r *refcount) Incref() bool {
	if r.state.Add(1)&closedBit != 0 {
		r.Decref()
		return false
	}
	return true
}

// Decref drops a reference taken by Incref.
func (r *refcount) Decref() {
	if r.state.Add(-1) == closedBit { // the last call out after Close: wake Close
		if ch := r.zero.Load(); ch != nil {
			select {
			case *ch <- struct{}{}:
			default:
			}
		}
	}
}

// Closed reports whether Close was called.
func (r *refcount) Closed() bool { return r.state.Load()&closedBit != 0 }

// Close marks the descriptor closed; false if it already was.
func (r *refcount) Close() bool {
	for {
		s := r.state.Load()
		if s&closedBit != 0 {
			return false
		}
		if r.state.CompareAndSwap(s, s|closedBit) {
			return true
		}
	}
}

// Wait reports whether calls are still in flight after close.
func (r *refcount) Wait() bool { return r.state.Load() != closedBit }

// WaitZero blocks until the last call in flight has returned.
// Only the Close that marked the descriptor calls it. Its channel is
// published before it looks at the count again: a last Decref either sees
// the channel or ran before that look, which then finds no call left.
func (r *refcount) WaitZero() {
	if r.state.Load() == closedBit {
		return
	}
	ch := make(chan struct{}, 1)
	r.zero.Store(&ch)
	for r.state.Load() != closedBit {
		<-ch
	}
}
