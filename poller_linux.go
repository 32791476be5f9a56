//go:build linux

package uring

import (
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller finds completions through Go's netpoller: the ring fd is pollable
// (readable while the CQ holds entries), so a goroutine parks on it as a
// net.Conn parks on a socket, and no thread sleeps in io_uring_enter. When
// a completion arrives, whichever thread runs the scheduler's netpoll
// (an idle one in epoll_wait, or sysmon) readies the goroutine, which reaps
// and readies the waiters on its own processor.
type poller struct {
	s        *shard
	f        *os.File // a dup of the ring fd, registered with the netpoller
	done     chan struct{}
	stopping atomic.Bool
	nWakes   atomic.Uint64
}

func newPoller(s *shard) (completer, error) {
	fd, err := unix.FcntlInt(uintptr(s.k.fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so os.NewFile puts it in the netpoller. io_uring_enter
	// ignores the flag.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "io_uring")
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
	// One Read for the poller's life: the callback reaps and asks to wait
	// again; Read parks in the netpoller in between, and returns when the
	// file is closed (stop).
	rc.Read(func(uintptr) bool {
		if p.stopping.Load() {
			return true
		}
		p.nWakes.Add(1)
		// Lock, not TryLock: a submitter reaping inline may have looked at
		// the CQ before the entry that woke us was posted.
		s.cqMu.Lock()
		n := s.k.reap(s.cqes, s.cqeCap)
		s.dispatch(n, -1)
		s.cqMu.Unlock()
		return false
	})
}

// kick has nothing to do: the poller always watches the ring fd, parked.
func (p *poller) kick() {}

// stop closes the poller's fd, which ends its Read, and waits for it. The
// dup must be closed before the kernel ring is freed: it holds the ring's
// file open.
func (p *poller) stop() {
	p.stopping.Store(true)
	p.f.Close()
	<-p.done
}

func (p *poller) wakeups() uint64 { return p.nWakes.Load() }
