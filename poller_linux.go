//go:build linux

package uring

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	// idle: asleep with no recheck deadline, since nothing was in flight.
	// Whoever clears it (the poller waking, or a submitter in watch) owns
	// arming the deadline.
	idle   atomic.Bool
	nWakes atomic.Uint64
}

// pollerRecheck bounds how long a completion can wait if the kernel posted
// it in the instant between a submitter turning the eventfd back on and
// reading the CQ (the kernel stores the CQ tail and then loads the flag with
// no fence between, so both sides can miss the other's store): while
// requests are in flight the poller looks anyway at this interval. A poller
// that went to sleep with nothing in flight has no deadline; a submitter
// that leaves requests in flight after such an enter gives it one (watch).
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
		busy := s.inflight.Load() > 0
		if !busy {
			if armed {
				p.f.SetReadDeadline(time.Time{})
				armed = false
			}
			// Idle first, then look again: a submitter that left requests
			// in flight either sees idle (and arms the deadline in watch)
			// or made inflight visible before this load.
			p.idle.Store(true)
			if s.inflight.Load() > 0 && p.idle.CompareAndSwap(true, false) {
				busy = true
			}
		}
		if busy {
			p.f.SetReadDeadline(time.Now().Add(pollerRecheck))
		}
		err := rc.Read(func(fd uintptr) bool {
			if p.stopping.Load() {
				return true
			}
			// A bare read(2): unix.Read would acquire x/sys's ioSync under
			// -race, ordering every completion after every unix.Write in
			// the process and hiding a goroutine's race with the kernel.
			_, _, errno := unix.Syscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
			return errno != unix.EAGAIN
		})
		// Not idle any more: a deadline is set (by this loop, or by a
		// submitter in watch) unless idle was still set, or one expired (a
		// late watch can land after the loop went idle again).
		armed = !p.idle.Swap(false) || err == os.ErrDeadlineExceeded
		if err != nil && err != os.ErrDeadlineExceeded {
			return // the eventfd was closed: stop
		}
		p.nWakes.Add(1)
		s.reapOrDefer()
	}
}

// watch is called after an enter that silenced the eventfd left requests
// in flight: a completion they post in the instant the eventfd came back on
// may signal nothing, so a poller asleep without a deadline gets one.
func (p *poller) watch() {
	if p.idle.Load() && p.idle.CompareAndSwap(true, false) {
		p.f.SetReadDeadline(time.Now().Add(pollerRecheck))
	}
}

// stop closes the eventfd, which ends the poller's Read, and waits for it.
func (p *poller) stop() {
	p.stopping.Store(true)
	p.f.Close()
	<-p.done
}

func (p *poller) wakeups() uint64 { return p.nWakes.Load() }
