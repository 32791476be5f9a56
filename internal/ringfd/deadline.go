package ringfd

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Deadline is one direction's deadline. Calls run under the current epoch's
// context; the deadline passing cancels that context with cause
// os.ErrDeadlineExceeded, which cancels the calls in flight (moving a
// deadline while a call is blocked takes effect) and fails new ones at once;
// Close cancels it for good with cause ErrClosing. Setting a deadline after
// one passed starts a new epoch. No timer runs while no deadline is set.
//
// Epochs are made only when a call asks for a context: a deadline that is
// set and cleared, or set in the past, with no call in flight (net/http
// does both on every request) allocates nothing. A passed deadline with no
// epoch of its own shares passedEpoch.
//
// An FD that never sets a deadline keeps one word per direction: the state
// is made on first use (an idle connection is mostly this, issue 25). The
// timer's function holds the state only, never the FD: a connection dropped
// with a deadline pending is still collected.
type Deadline struct {
	st atomic.Pointer[deadlineState] // made by the first Set, close or epoch
}

type deadlineState struct {
	cur     atomic.Pointer[epoch] // nil: none made since the last reset
	at      atomic.Int64          // the deadline, Unix nanoseconds; 0: none
	mu      sync.Mutex
	timer   *time.Timer
	closed  bool  // set by close: no new epoch
	closing error // the Kind's ErrClosing: the cause Close cancelled with
}

// state returns d's state, making it on first use.
func (d *Deadline) state() *deadlineState {
	if st := d.st.Load(); st != nil {
		return st
	}
	d.st.CompareAndSwap(nil, &deadlineState{})
	return d.st.Load()
}

type epoch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newEpoch() *epoch {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &epoch{ctx, cancel}
}

// passedEpoch is every Deadline's epoch once its deadline passed with no
// epoch of its own in use: cancelled with os.ErrDeadlineExceeded, never reset.
var passedEpoch = func() *epoch {
	e := newEpoch()
	e.cancel(os.ErrDeadlineExceeded)
	return e
}()

// Context returns the context for a call: the current epoch's, already
// cancelled (with its cause) when the deadline has passed or Close ran.
func (d *Deadline) Context() context.Context {
	st := d.state()
	e := st.cur.Load()
	if e == nil {
		st.mu.Lock()
		if e = st.cur.Load(); e == nil {
			e = newEpoch()
			if st.closed {
				e.cancel(st.closing)
			}
			st.cur.Store(e)
		}
		st.mu.Unlock()
	}
	return e.ctx
}

// Err is the cause the current epoch was cancelled with (a passed
// deadline, Close), or nil. Unlike Context it never makes an epoch, so a
// call that only checks costs no allocation.
func (d *Deadline) Err() error {
	st := d.st.Load()
	if st == nil {
		return nil
	}
	e := st.cur.Load()
	if e == nil || e.ctx.Err() == nil {
		return nil
	}
	return context.Cause(e.ctx)
}

// Passed reports whether a deadline is set and now is past it: exact, where
// Err waits for the deadline's timer to run.
func (d *Deadline) Passed() bool {
	st := d.st.Load()
	if st == nil {
		return false
	}
	at := st.at.Load()
	return at != 0 && time.Now().UnixNano() >= at
}

// Set moves the deadline to t (zero: none).
func (d *Deadline) Set(t time.Time) {
	st := d.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	if t.IsZero() {
		st.at.Store(0)
	} else {
		st.at.Store(t.UnixNano())
	}
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	if st.closed {
		return
	}
	if e := st.cur.Load(); e != nil && e.ctx.Err() != nil {
		st.cur.Store(nil) // a new epoch, made when a call asks for it
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		st.expire()
		return
	}
	var tm *time.Timer
	tm = time.AfterFunc(dur, func() {
		st.mu.Lock()
		if st.timer == tm { // not moved since: the deadline has passed
			st.timer = nil
			st.expire()
		}
		st.mu.Unlock()
	})
	st.timer = tm
}

// expire ends the current epoch because the deadline passed: its calls in
// flight are cancelled; with none made, the shared passed epoch stands in.
// The state's mu is held.
func (st *deadlineState) expire() {
	if e := st.cur.Load(); e != nil {
		e.cancel(os.ErrDeadlineExceeded)
		return
	}
	st.cur.Store(passedEpoch)
}

// close releases the timer and cancels the current epoch for good (Close):
// a call that took its reference before Close but reaches the ring only
// after Close's CancelFD is cancelled by its context instead of blocking.
func (d *Deadline) close(closing error) {
	st := d.state()
	st.mu.Lock()
	st.closed, st.closing = true, closing
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	e := st.cur.Load()
	if e == nil || e.ctx.Err() != nil { // an epoch to cancel, so Err reports the close
		e = newEpoch()
		st.cur.Store(e)
	}
	e.cancel(closing)
	st.mu.Unlock()
}
