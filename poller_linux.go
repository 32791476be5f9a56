//go:build linux

package uring

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// poller finds completions through Go's netpoller: an eventfd registered
// with the ring (IORING_REGISTER_EVENTFD) is signalled for each completion,
// and a goroutine parks on it as a net.Conn parks on a socket, so no thread
// sleeps in io_uring_enter. When a completion arrives, whichever thread runs
// the scheduler's netpoll (an idle one in epoll_wait, or sysmon) readies the
// goroutine, which reaps and readies the waiters on its own processor.
//
// A submitter that reaps inline silences the eventfd for its enter
// (IORING_CQ_EVENTFD_DISABLED), so ops that complete inline cost no
// wake-up; it reads the CQ again once the eventfd is back on.
type poller struct {
	s        *shard
	f        *os.File // the eventfd, in the netpoller
	done     chan struct{}
	stopping atomic.Bool
	nWakes   atomic.Uint64
}

// pollerRecheck bounds how long a completion can wait if the kernel posted
// it in the instant between a submitter turning the eventfd back on and
// reading the CQ (the two sides' flag and tail accesses are not ordered by
// one fence): while requests are in flight the poller looks anyway at this
// interval.
const pollerRecheck = 10 * time.Millisecond

func newPoller(s *shard) (completer, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := s.k.registerEventfd(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "io_uring-eventfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &poller{s: s, f: f, done: make(chan struct{})}
	go p.run(rc)
	return p, nil
}

func (p *poller) run(rc syscall.RawConn) {
	defer close(p.done)
	s := p.s
	var buf [8]byte
	armed := false
	for !p.stopping.Load() {
		// The recheck deadline only while something is in flight: an idle
		// shard costs no timer.
		if busy := s.inflight.Load() > 0; busy || armed {
			var dl time.Time
			if busy {
				dl = time.Now().Add(pollerRecheck)
			}
			p.f.SetReadDeadline(dl)
			armed = busy
		}
		err := rc.Read(func(fd uintptr) bool {
			if p.stopping.Load() {
				return true
			}
			_, err := unix.Read(int(fd), buf[:])
			return err != unix.EAGAIN
		})
		if err != nil && err != os.ErrDeadlineExceeded {
			return // the eventfd was closed: stop
		}
		p.nWakes.Add(1)
		s.reapOrDefer()
	}
}

// stop closes the eventfd, which ends the poller's Read, and waits for it.
func (p *poller) stop() {
	p.stopping.Store(true)
	p.f.Close()
	<-p.done
}

func (p *poller) wakeups() uint64 { return p.nWakes.Load() }
