package uring

import (
	"context"
	"syscall"
	"time"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// Completion: whoever holds s.cqMu reaps CQEs into s.cqes and dispatches
// them here: a submitter for what completed inline, or the shard's
// completer (completer.go) for the rest.

// reapOrDefer reaps and dispatches what the CQ holds, or, when another
// goroutine holds cqMu, leaves it to that one: every holder looks again
// after unlocking (unlockCQ). The completion side never blocks on a
// submitter reaping inline (a futex sleep and wake-up on the submitter's
// hot path), and no entry posted meanwhile is left unreaped.
func (s *shard) reapOrDefer() {
	s.reapPending.Store(true)
	if !s.cqMu.TryLock() {
		return
	}
	s.reapPending.Store(false)
	s.reapAll()
	s.unlockCQ()
}

// reapAll reaps and dispatches until the CQ is empty. Called with cqMu held.
func (s *shard) reapAll() {
	for {
		n := s.k.reap(s.cqes, s.cqeCap)
		s.dispatch(n, -1)
		if n < s.cqeCap {
			return
		}
	}
}

// unlockCQ releases cqMu, then reaps for a completer that found it held.
func (s *shard) unlockCQ() {
	s.cqMu.Unlock()
	for s.reapPending.Load() && s.cqMu.TryLock() {
		s.reapPending.Store(false)
		s.reapAll()
		s.cqMu.Unlock()
	}
}

// dispatch delivers n reaped completions from s.cqes. Called with cqMu held.
// self is the slot of the calling goroutine (not counted as woken), or -1.
func (s *shard) dispatch(n int, self int32) {
	if n == 0 {
		return
	}
	s.nCompleted.Add(uint64(n))
	cqes := unsafe.Slice((*cqe)(s.cqes), n)
	for i := range cqes {
		c := &cqes[i]
		if isMessage(c.userData) {
			s.nForeign.Add(1)
			continue
		}
		if isInternal(c.userData) {
			s.inflight.Add(-1)
			continue
		}
		sl := s.slotByID(c.userData)
		if sl == nil {
			s.nForeign.Add(1)
			continue
		}
		s.complete(sl, c, self)
	}
}

// complete records one CQE for slot sl and wakes or notifies its owner.
func (s *shard) complete(sl *slot, c *cqe, self int32) {
	more := c.flags&ops.CQEFlagMore != 0
	if sl.mode == modeStream {
		sink := sl.sink
		if !more {
			// Free the slot before the consumer learns the stream ended, so
			// that a finished Stream holds nothing.
			s.inflight.Add(-1)
			s.finishCleanup(sl)
			s.release(sl.idx)
		}
		sink.Push(Result{Res: c.res, Flags: c.flags, shard: s.id}, !more)
		return
	}
	if more {
		// A zero-copy send's first CQE carries the result; the request ends
		// with the notification that follows.
		if !sl.gotFirst {
			sl.gotFirst = true
			sl.res, sl.flags = c.res, c.flags
		}
		return
	}
	if !sl.gotFirst || c.flags&ops.CQEFlagNotif == 0 {
		sl.res, sl.flags = c.res, c.flags
	}
	s.inflight.Add(-1)
	s.finishCleanup(sl)
	switch sl.mode {
	case modeWait:
		if sl.idx == self {
			sl.selfDone = true
			return
		}
		sl.counted = true
		s.woken.Add(1)
		sl.done <- struct{}{}
	case modeCallback:
		res, err := s.outcome(sl)
		fn := sl.cb
		sl.after.finish()
		s.release(sl.idx)
		s.cbs.push(callback{fn, res, err})
	case modeFuture:
		f := sl.fut
		f.res, f.err = s.outcome(sl)
		sl.after.finish()
		s.release(sl.idx)
		close(f.done)
	}
}

// finishCleanup releases what a request held as soon as its final CQE is
// reaped: pins, C memory, and copies results out of the msghdr.
func (s *shard) finishCleanup(sl *slot) { sl.cleanup(s.scratchAt(sl)) }

// cleanup is finishCleanup for a slot whose scratch is sc.
func (sl *slot) cleanup(sc *scratchArea) {
	if sl.kind == ops.ArgMsghdr {
		m := &sc.msg
		sl.msgFlags, sl.oobn = m.flags, int32(m.controllen)
	}
	if raceEnabled {
		raceKernelAccess(sl.raceAddr, sl.raceLen, sl.raceWrite)
	}
	sl.unpin()
	if sl.cmem != nil {
		cFree(sl.cmem)
		sl.cmem = nil
	}
	if sl.cmem2 != nil {
		cFree(sl.cmem2)
		sl.cmem2 = nil
	}
}

// await blocks a Do or DoBatch caller until sl's request completes. When
// cancel is non-nil and ctx ends first, it is called (it asks the kernel to
// cancel) and the wait goes on for the completion: the kernel may still be
// using the request's memory. It reports whether ctx ended.
func (s *shard) await(ctx context.Context, sl *slot, cancel func()) bool {
	ended := false
	if sl.selfDone {
		// Completed inline and dispatched by this goroutine: no wake-up needed.
	} else if done := ctx.Done(); done == nil || cancel == nil {
		s.nParks.Add(1)
		<-sl.done
	} else {
		s.nParks.Add(1)
		select {
		case <-sl.done:
		case <-done:
			ended = true
			cancel()
			<-sl.done
		}
	}
	if sl.counted {
		s.woken.Add(-1)
	}
	return ended
}

// outcome turns a finished slot into the call's result and error, following
// the standard library: ctx errors for cancelled calls, ErrClosed for calls
// cancelled by Close, syscall.Errno otherwise.
func (s *shard) outcome(sl *slot) (Result, error) {
	res := Result{Res: sl.res, Flags: sl.flags, MsgFlags: sl.msgFlags, OOBN: sl.oobn, shard: s.id}
	if sl.res >= 0 {
		return res, nil
	}
	en := syscall.Errno(-sl.res)
	if en == syscall.ECANCELED || en == syscall.EINTR {
		switch {
		case sl.ctx != nil && sl.ctx.Err() != nil:
			return res, sl.ctx.Err()
		case !sl.deadline.IsZero() && !time.Now().Before(sl.deadline):
			return res, errDeadline
		case s.closing():
			return res, ErrClosed
		}
	}
	return res, errnoErr(en)
}

// streamErr maps a final negative result for calls that did not go through
// outcome (streams).
func (s *shard) streamErr(ctx context.Context, res int32) error {
	en := syscall.Errno(-res)
	if en == syscall.ECANCELED {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closing() {
			return ErrClosed
		}
	}
	return errnoErr(en)
}
