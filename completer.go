package uring

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/goaio/uring/ops"
)

// A completer reaps the completions that no submitter reaped inline: one
// per shard, chosen at New. Whatever it is, it reaps under s.cqMu with
// s.k.reap and hands the CQEs to s.dispatch.
type completer interface {
	// kick says requests are in flight: the completer must be watching the
	// CQ, or start to. It is called after every submission that leaves
	// requests in flight, so it must be cheap when already watching.
	kick()
	// stop ends the completer once no request is in flight (Close).
	stop()
	// wakeups is how many times it was woken to reap.
	wakeups() uint64
}

// The completion designs, built side by side and measured (docs/design.md).
// URING_DESIGN in the environment picks one at New, for benchmarks.
const (
	designReaper     = "reaper"      // (a) a goroutine blocked in io_uring_enter
	designPoller     = "poller"      // (c) the ring fd in Go's netpoller
	designPollerCoop = "poller-coop" // (c) with IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG
)

func (s *shard) startCompleter(design string) error {
	switch design {
	case "", designReaper:
		s.completer = newReaper(s)
	case designPoller, designPollerCoop:
		c, err := newPoller(s)
		if err != nil {
			return err
		}
		s.completer = c
	default:
		return fmt.Errorf("uring: URING_DESIGN=%q: want %s, %s or %s", design, designReaper, designPoller, designPollerCoop)
	}
	return nil
}

// reaper is a goroutine that blocks in io_uring_enter, inside cgo, while
// requests are in flight, and parks (costing no thread) while none are.
type reaper struct {
	s        *shard
	sleeping atomic.Int32
	wake     chan struct{}
	done     chan struct{}
	stopping atomic.Bool
	nWakes   atomic.Uint64
}

func newReaper(s *shard) *reaper {
	rp := &reaper{s: s, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go rp.run()
	return rp
}

func (rp *reaper) run() {
	s := rp.s
	defer close(rp.done)
	for {
		if s.inflight.Load() <= 0 {
			if rp.stopping.Load() {
				return
			}
			rp.sleeping.Store(1)
			if s.inflight.Load() > 0 || rp.stopping.Load() {
				if !rp.sleeping.CompareAndSwap(1, 0) {
					<-rp.wake // a waker won the race; take its token
				}
				continue
			}
			<-rp.wake
			continue
		}
		if err := s.k.wait(); err != nil {
			time.Sleep(time.Millisecond) // should not happen; do not spin
		}
		rp.nWakes.Add(1)
		s.cqMu.Lock()
		s.reapAll()
		s.unlockCQ()
	}
}

func (rp *reaper) kick() {
	if rp.sleeping.Load() == 1 && rp.sleeping.CompareAndSwap(1, 0) {
		rp.wake <- struct{}{}
	}
}

// stop wakes the reaper from the kernel with a NOP whose completion it, and
// only it, reaps, and waits for it to return.
func (rp *reaper) stop() {
	rp.stopping.Store(true)
	rp.s.submitInternal(sqe{opcode: uint8(ops.OpNop)}, false)
	rp.kick()
	<-rp.done
}

func (rp *reaper) wakeups() uint64 { return rp.nWakes.Load() }
