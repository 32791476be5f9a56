package fs

import "sync/atomic"

// refcount counts a File's calls in flight, so that Close can wait for them
// before closing the descriptor (the role of internal/poll's fdMutex).
type refcount struct {
	state atomic.Int64 // closedBit | calls in flight
	zero  chan struct{}
}

const closedBit = int64(1) << 62

// incref takes a reference; false once the File is closed.
func (r *refcount) incref() bool {
	if r.state.Add(1)&closedBit != 0 {
		r.decref()
		return false
	}
	return true
}

func (r *refcount) decref() {
	if r.state.Add(-1) == closedBit {
		select { // the last call out after Close: wake Close
		case r.zero <- struct{}{}:
		default:
		}
	}
}

func (r *refcount) closed() bool { return r.state.Load()&closedBit != 0 }

// close marks the File closed; false if it already was.
func (r *refcount) close() bool {
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

// wait reports whether calls are still in flight after close.
func (r *refcount) wait() bool { return r.state.Load() != closedBit }

// waitZero blocks until the last call in flight has returned.
func (r *refcount) waitZero() {
	for r.state.Load() != closedBit {
		<-r.zero
	}
}
