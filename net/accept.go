//go:build linux

package net

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
	"github.com/goaio/uring/ops"
)

// acceptAhead is how many connections a listener accepts ahead of Accept;
// the rest wait in the kernel's backlog, whose back-pressure std has.
const acceptAhead = 16

// acceptQueue accepts ahead of Accept: from the first Accept on, one
// single-shot accept stays armed while fewer than acceptAhead connections
// wait untaken. Not a multishot accept: the kernel drains the whole backlog
// at each wake-up, so no cancel could bound it. A waiting Accept parks on
// the Go side, so its deadline needs nothing from the kernel. Close cancels
// the armed accept and closes the connections nobody took.
//
// The accept runs under no context, so arming one hooks nothing (a context
// that Close cancels made an AfterFunc per connection): Close stops the
// queue and cancels the listener's requests in the kernel (ringfd's Close),
// and an accept armed while Close runs cancels itself. It takes the peer's
// address too, so a connection needs no getpeername.
type acceptQueue struct {
	s       *sock  // not the netFD, which the armed accept would keep alive
	unlink  string // a unix listener's socket file, removed at Close
	stopped atomic.Bool
	done    func(uring.Result, error) // complete, bound once
	// The armed accept's peer: the kernel writes it, the ring pins it.
	peer    unix.RawSockaddrAny
	peerLen uint32

	mu     sync.Mutex
	conns  [acceptAhead]acceptedConn // a ring: a slice queue reallocated as it moved
	head   int
	queued int
	err    error // a failure for the next Accept (EMFILE, ...)
	armed  bool
	notify chan struct{}
}

// acceptedConn is a connection accepted ahead: its descriptor and peer.
type acceptedConn struct {
	fd   int
	peer unix.RawSockaddrAny
}

func newAcceptQueue(s *sock) *acceptQueue {
	q := &acceptQueue{s: s, notify: make(chan struct{}, 1)}
	q.done = q.complete
	return q
}

// stop makes the queue arm no more accepts (Close, before it cancels the
// listener's requests).
func (q *acceptQueue) stop() {
	q.stopped.Store(true)
	q.wake()
}

// startLocked reports whether to arm an accept now, and marks it armed.
func (q *acceptQueue) startLocked() bool {
	if q.armed || q.err != nil || q.queued >= acceptAhead || q.stopped.Load() {
		return false
	}
	q.armed = true
	return true
}

// arm submits the accept startLocked chose, outside q.mu: its completion
// may run on this goroutine.
func (q *acceptQueue) arm() {
	if q.s.Incref() != nil {
		q.disarm(nil)
		return
	}
	q.peerLen = unix.SizeofSockaddrAny
	op := ops.Accept(q.s.Sysfd, &q.peer, &q.peerLen, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	if err := q.s.Ring.Async(context.Background(), op, q.done); err != nil {
		q.s.Decref()
		q.disarm(err)
		return
	}
	// Close stops the queue, then cancels the listener's requests: seeing
	// it stopped here, this accept may have come after that cancel.
	if q.stopped.Load() {
		_, _ = q.s.Ring.CancelFD(context.Background(), q.s.Sysfd)
	}
}

func (q *acceptQueue) disarm(err error) {
	q.mu.Lock()
	q.armed = false
	if err != nil && !errors.Is(err, context.Canceled) {
		q.err = err
	}
	q.mu.Unlock()
	q.wake()
}

// complete takes the armed accept's result (on the goroutine that reaped
// it) and arms the next while there is room.
func (q *acceptQueue) complete(res uring.Result, err error) {
	var errno syscall.Errno
	q.mu.Lock()
	q.armed = false
	switch {
	case err == nil:
		q.conns[(q.head+q.queued)%acceptAhead] = acceptedConn{fd: res.N(), peer: q.peer}
		q.queued++
	case errors.Is(err, context.Canceled) || errors.Is(err, syscall.ECANCELED): // Close
	case errors.As(err, &errno) && acceptRetry(errno): // std retries these
	default:
		q.err = err
	}
	arm := q.startLocked()
	q.mu.Unlock()
	q.s.Decref() // the armed request's reference
	q.wake()
	if arm {
		q.arm()
	}
}

func (q *acceptQueue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// next returns the next accepted connection, arming an accept when there
// is room for one; rd is the listener's deadline, whose cause (deadline or
// Close) it returns when it ends.
func (q *acceptQueue) next(rd *ringfd.Deadline) (acceptedConn, error) {
	for {
		ctx := rd.Context()
		if ctx.Err() != nil {
			return acceptedConn{}, context.Cause(ctx)
		}
		q.mu.Lock()
		if q.queued > 0 {
			c := q.conns[q.head]
			q.head = (q.head + 1) % acceptAhead
			q.queued--
			arm := q.startLocked()
			q.mu.Unlock()
			if arm {
				q.arm()
			}
			return c, nil
		}
		if err := q.err; err != nil {
			q.err = nil // the next Accept tries again
			q.mu.Unlock()
			return acceptedConn{}, err
		}
		arm := q.startLocked()
		q.mu.Unlock()
		if arm {
			q.arm()
			continue // it may have completed already
		}
		select {
		case <-q.notify:
		case <-ctx.Done():
			return acceptedConn{}, context.Cause(ctx)
		}
	}
}

// closeAll closes the connections accepted but never taken (Close, once
// the armed accept has ended).
func (q *acceptQueue) closeAll() {
	q.mu.Lock()
	for ; q.queued > 0; q.queued-- {
		syscall.Close(q.conns[q.head].fd)
		q.head = (q.head + 1) % acceptAhead
	}
	q.mu.Unlock()
}
