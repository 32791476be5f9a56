//go:build linux

package uring

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

// owner is a shard's ring-owner thread: one goroutine locked to its OS
// thread creates the ring with IORING_SETUP_SINGLE_ISSUER |
// IORING_SETUP_DEFER_TASKRUN, registers the ring fd with that thread, and
// is the only task that enters the kernel for it. Callers stage SQEs as
// for any shard (stage) and wake the owner only when it sleeps. The kernel
// runs a request's completion work only when the owner asks for events, so
// a socket completion costs one thread wake-up (the owner's), not one on
// whichever thread submitted it.
//
// The owner sleeps in io_uring_enter waiting for a completion. A caller
// wakes it by writing an eventfd on which the ring keeps a multishot poll
// armed (wakeID); sleeping says whether that write is needed. Calls that
// SINGLE_ISSUER allows only on the owner (registration, the probe, closing
// the ring) come to it as closures (call).
type owner struct {
	s        *shard
	evfd     int
	sleeping atomic.Bool // the owner is (about to be) waiting in the kernel: wake it
	rearm    bool        // the wake-up poll ended: arm it again (owner only)

	callMu sync.Mutex
	calls  []func()
	nCalls atomic.Int32
	gid    uint64

	begin  chan struct{} // s is set: run
	nWakes atomic.Uint64

	// With netpoll the owner sleeps in Go's netpoller instead of the
	// kernel: the eventfd is registered with the ring, which signals it
	// when completion work is queued, and callers write it to wake.
	netpoll bool
	evf     *os.File
	rc      syscall.RawConn
	drain   func(fd uintptr) bool
	buf     [8]byte
}

// wakeValue is what wake writes to the eventfd.
var wakeValue = [8]byte{1}

// startOwner starts an owner thread and runs create on it, which makes the
// kernel ring; it returns create's ring or error. The thread then waits for
// begin to run the shard.
func startOwner(create func() (*kernelRing, error), netpoll bool) (*owner, *kernelRing, error) {
	o := &owner{begin: make(chan struct{}), evfd: -1, netpoll: netpoll}
	type made struct {
		k   *kernelRing
		err error
	}
	ready := make(chan made, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and with it
		// the ring fd's registration.
		runtime.LockOSThread()
		o.gid = goroutineID()
		k, err := create()
		if err == nil {
			err = o.setup(k)
			if err != nil {
				k.close()
			}
		}
		ready <- made{k, err}
		if err != nil {
			return
		}
		<-o.begin
		o.run()
	}()
	m := <-ready
	return o, m.k, m.err
}

// setup registers the ring fd with this thread and arms the wake-up poll.
func (o *owner) setup(k *kernelRing) error {
	if err := k.registerRingFd(); err != nil {
		return err
	}
	if o.netpoll {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			return err
		}
		if err := k.registerEventfd(fd, false); err != nil {
			unix.Close(fd)
			return err
		}
		o.evf = os.NewFile(uintptr(fd), "io_uring-owner-eventfd")
		if o.rc, err = o.evf.SyscallConn(); err != nil {
			o.evf.Close()
			return err
		}
		o.evfd = fd
		o.drain = o.drainEventfd
		k.exec = o.call
		return nil
	}
	// A blocking eventfd: the ring polls it, and a write never blocks.
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	o.evfd = fd
	arm := [1]sqe{o.wakePoll()}
	buf := cAlloc(sqeSize)
	defer cFree(buf)
	copySQEs(buf, arm[:])
	if _, _, err := k.submit(buf, 1, nil, 0); err != nil {
		unix.Close(fd)
		return err
	}
	k.exec = o.call
	return nil
}

// wakePoll is the SQE of the multishot poll on the eventfd.
func (o *owner) wakePoll() sqe {
	return sqe{opcode: uint8(ops.OpPollAdd), fd: int32(o.evfd), len: ops.PollAddMulti,
		opFlags: unix.POLLIN, userData: wakeID}
}

// wake makes a sleeping owner look for work: callers call it after staging.
func (o *owner) wake() {
	if o.sleeping.Load() && o.sleeping.Swap(false) {
		unix.Write(o.evfd, wakeValue[:])
	}
}

// woke records the wake-up poll's completion: without IORING_CQE_F_MORE it
// has ended and is armed again before the owner next sleeps.
func (o *owner) woke(flags uint32) {
	if flags&ops.CQEFlagMore == 0 {
		o.rearm = true
	}
}

// call runs fn on the owner thread and waits for it.
func (o *owner) call(fn func()) {
	if goroutineID() == o.gid {
		fn()
		return
	}
	done := make(chan struct{})
	o.callMu.Lock()
	o.calls = append(o.calls, func() { fn(); close(done) })
	o.callMu.Unlock()
	o.nCalls.Add(1)
	// Always a write: calls are rare, and the owner may be anywhere in its
	// loop.
	unix.Write(o.evfd, wakeValue[:])
	<-done
}

// runCalls runs the queued calls.
func (o *owner) runCalls() {
	if o.nCalls.Load() == 0 {
		return
	}
	o.callMu.Lock()
	calls := o.calls
	o.calls = nil
	o.callMu.Unlock()
	o.nCalls.Add(-int32(len(calls)))
	for _, fn := range calls {
		fn()
	}
}

// run is the owner's loop: submit what is staged, reap, and sleep in the
// kernel when there is nothing to submit, until the ring is closed (by a
// call).
func (o *owner) run() {
	s := o.s
	defer func() {
		if o.evf != nil {
			o.evf.Close()
		} else if o.evfd >= 0 {
			unix.Close(o.evfd)
		}
	}()
	held := false // the last reap found cqMu held by another goroutine
	for {
		o.runCalls()
		if s.k.closed() {
			return
		}
		s.mu.Lock()
		if o.rearm && s.staged < s.stageCap {
			o.rearm = false
			e := o.wakePoll()
			copySQEs(s.stagedEnd(), []sqe{e})
			s.staged++
			// Not a request: submitBatch must not count it.
			s.inflight.Add(-1)
			s.nSubmitted.Add(^uint64(0))
		}
		if s.staged > 0 {
			buf, n := s.staging[s.cur], s.staged
			s.cur ^= 1
			s.staged = 0
			if s.spaceWait > 0 {
				s.space.Broadcast()
			}
			s.mu.Unlock()
			s.submitBatch(buf, n, -1)
			held = false
			continue
		}
		if held {
			// Someone else holds the CQ (only tests do: HoldCQ): what is
			// there waits for them, and waiting in the kernel would return
			// at once.
			s.mu.Unlock()
			time.Sleep(50 * time.Microsecond)
		} else {
			o.sleeping.Store(true)
			s.mu.Unlock()
			if o.nCalls.Load() > 0 {
				o.sleeping.Store(false)
				continue
			}
			var err error
			if o.netpoll {
				err = o.park()
			} else {
				err = s.k.wait()
			}
			o.sleeping.Store(false)
			o.nWakes.Add(1)
			if err != nil && err != syscall.EINTR {
				e := error(err)
				s.broken.CompareAndSwap(nil, &e)
				time.Sleep(time.Millisecond)
			}
		}
		held = !s.cqMu.TryLock()
		if !held {
			s.reapAll()
			s.cqMu.Unlock()
		}
	}
}

// park runs the deferred completion work and, when it posted nothing,
// parks in the netpoller until the eventfd is signalled: by the kernel for
// new completion work, or by a caller.
func (o *owner) park() error {
	s := o.s
	s.k.getEvents()
	if s.k.ready() {
		return nil
	}
	return o.rc.Read(o.drain)
}

// drain reads the eventfd for park; made once, so parking allocates nothing.
func (o *owner) drainEventfd(fd uintptr) bool {
	_, err := unix.Read(int(fd), o.buf[:])
	return err != unix.EAGAIN
}

// stop: the owner ends when the ring is closed, on its thread (close).
func (o *owner) stop() {}

func (o *owner) wakeups() uint64 { return o.nWakes.Load() }
