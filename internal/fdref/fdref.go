// Package fdref counts the calls in flight on a descriptor, so that Close can
// wait for them before closing it (the role of internal/poll's fdMutex) and
// an fd number is never reused under a running operation.
package fdref

import "sync/atomic"

// Ref counts a descriptor's calls in flight. Create it with New.
type Ref struct {
	state atomic.Int64 // closedBit | calls in flight
	zero  chan struct{}
}

// New returns a Ref with no calls in flight.
func New() *Ref { return &Ref{zero: make(chan struct{}, 1)} }

// Init readies a Ref embedded in another struct.
func (r *Ref) Init() { r.zero = make(chan struct{}, 1) }

const closedBit = int64(1) << 62

// Incref takes a reference; false once the descriptor is closed.
func (r *Ref) Incref() bool {
	if r.state.Add(1)&closedBit != 0 {
		r.Decref()
		return false
	}
	return true
}

// Decref drops a reference taken by Incref.
func (r *Ref) Decref() {
	if r.state.Add(-1) == closedBit {
		select { // the last call out after Close: wake Close
		case r.zero <- struct{}{}:
		default:
		}
	}
}

// Closed reports whether Close was called.
func (r *Ref) Closed() bool { return r.state.Load()&closedBit != 0 }

// Close marks the descriptor closed; false if it already was.
func (r *Ref) Close() bool {
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
func (r *Ref) Wait() bool { return r.state.Load() != closedBit }

// WaitZero blocks until the last call in flight has returned.
func (r *Ref) WaitZero() {
	for r.state.Load() != closedBit {
		<-r.zero
	}
}
