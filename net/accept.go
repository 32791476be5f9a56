//go:build linux

package net

import (
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// acceptQueue is a listener's multishot accept (IORING_ACCEPT_MULTISHOT,
// Linux 5.19): armed by the first Accept, it keeps accepting, and Accept
// takes the connections it queued. A waiting Accept parks on the Go side,
// so its deadline needs nothing from the kernel. Close cancels the request
// and closes the connections nobody took.
type acceptQueue struct {
	fd *netFD

	mu          sync.Mutex
	fds         []int
	err         error // a failure for the next Accept (EMFILE, ...)
	armed       bool
	unsupported bool // the kernel refused multishot accept: single-shot it is
	accepted    bool
	notify      chan struct{}
}

func newAcceptQueue(fd *netFD) *acceptQueue {
	return &acceptQueue{fd: fd, notify: make(chan struct{}, 1)}
}

// Push takes a completion from the ring's dispatcher.
func (q *acceptQueue) Push(res uring.Result, final bool) {
	q.mu.Lock()
	switch errno := syscall.Errno(-res.Res); {
	case res.Res >= 0:
		q.fds = append(q.fds, int(res.Res))
		q.accepted = true
	case errno == syscall.EINVAL && !q.accepted:
		q.unsupported = true
	case errno == syscall.ECANCELED || acceptRetry(errno):
	default:
		q.err = errno
	}
	if final {
		q.armed = false
	}
	q.mu.Unlock()
	if final {
		q.fd.ref.Decref() // the armed request's reference
	}
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// next returns the next accepted descriptor, arming the multishot accept
// when it is not; ok is false where the kernel lacks multishot accept.
func (q *acceptQueue) next() (nfd int, ok bool, err error) {
	for {
		ctx := q.fd.rd.context()
		if ctx == nil {
			if q.fd.ref.Closed() {
				return -1, true, net.ErrClosed
			}
			return -1, true, os.ErrDeadlineExceeded
		}
		q.mu.Lock()
		if len(q.fds) > 0 {
			nfd = q.fds[0]
			q.fds = q.fds[1:]
			q.mu.Unlock()
			return nfd, true, nil
		}
		if err = q.err; err != nil {
			q.err = nil
			q.mu.Unlock()
			return -1, true, os.NewSyscallError("accept", err)
		}
		if q.unsupported {
			q.mu.Unlock()
			return -1, false, nil
		}
		if !q.armed {
			if !q.fd.ref.Incref() {
				q.mu.Unlock()
				return -1, true, net.ErrClosed
			}
			q.armed = true
			q.mu.Unlock()
			// Outside q.mu: an inline completion pushes on this goroutine.
			m, err := q.fd.ring.Multishot(ops.AcceptMulti(q.fd.fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC), q)
			if err != nil {
				q.mu.Lock()
				q.armed = false
				q.mu.Unlock()
				q.fd.ref.Decref()
				return -1, true, err
			}
			if q.fd.ref.Closed() {
				// Close may have swept for requests before this one was
				// staged: cancel it here (staged after it, so it finds it).
				m.Cancel()
			}
			continue
		}
		q.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
			return -1, true, ctx.Err()
		}
	}
}

// closeAll closes the connections accepted but never taken (Close, once
// the multishot request has ended).
func (q *acceptQueue) closeAll() {
	q.mu.Lock()
	for _, nfd := range q.fds {
		syscall.Close(nfd)
	}
	q.fds = nil
	q.mu.Unlock()
}
