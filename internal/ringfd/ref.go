package ringfd

import "sync/atomic"

// refcount counts a descriptor's calls in flight, so that Close can wait
// for them before closing it (the role of internal/poll's fdMutex) and an
// fd number is never reused under a running operation.
type refcount struct {
	state atomic.Int64 // closedBit | calls in flight
	zero  chan struct{}
}

// Init readies a refcount embedded in another struct.
func (r *refcount) Init() { r.zero = make(chan struct{}, 1) }

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
	if r.state.Add(-1) == closedBit {
		select { // the last call out after Close: wake Close
		case r.zero <- struct{}{}:
		default:
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
func (r *refcount) WaitZero() {
	for r.state.Load() != closedBit {
		<-r.zero
	}
}
