//go:build linux

package net

import (
	"context"
	"errors"
	"sync"
	"syscall"

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
type acceptQueue struct {
	s    *sock           // not the netFD, which the armed accept would keep alive
	ctx  context.Context // cancelled by Close: the armed accept ends, none starts
	stop context.CancelFunc
	done func(uring.Result, error) // complete, bound once

	mu     sync.Mutex
	fds    []int
	err    error // a failure for the next Accept (EMFILE, ...)
	armed  bool
	notify chan struct{}
}

func newAcceptQueue(s *sock) *acceptQueue {
	q := &acceptQueue{s: s, notify: make(chan struct{}, 1)}
	q.ctx, q.stop = context.WithCancel(context.Background())
	q.done = q.complete
	return q
}

// startLocked reports whether to arm an accept now, and marks it armed.
func (q *acceptQueue) startLocked() bool {
	if q.armed || q.err != nil || len(q.fds) >= acceptAhead {
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
	op := ops.Accept(q.s.Sysfd, nil, nil, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	if err := q.s.Ring.Async(q.ctx, op, q.done); err != nil {
		q.s.Decref()
		q.disarm(err)
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
		q.fds = append(q.fds, res.N())
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

// next returns the next accepted descriptor, arming an accept when there
// is room for one; rd is the listener's deadline, whose cause (deadline or
// Close) it returns when it ends.
func (q *acceptQueue) next(rd *ringfd.Deadline) (int, error) {
	for {
		ctx := rd.Context()
		if ctx.Err() != nil {
			return -1, context.Cause(ctx)
		}
		q.mu.Lock()
		if len(q.fds) > 0 {
			nfd := q.fds[0]
			q.fds = q.fds[1:]
			arm := q.startLocked()
			q.mu.Unlock()
			if arm {
				q.arm()
			}
			return nfd, nil
		}
		if err := q.err; err != nil {
			q.err = nil // the next Accept tries again
			q.mu.Unlock()
			return -1, err
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
			return -1, context.Cause(ctx)
		}
	}
}

// closeAll closes the connections accepted but never taken (Close, once
// the armed accept has ended).
func (q *acceptQueue) closeAll() {
	q.mu.Lock()
	for _, nfd := range q.fds {
		syscall.Close(nfd)
	}
	q.fds = nil
	q.mu.Unlock()
}
