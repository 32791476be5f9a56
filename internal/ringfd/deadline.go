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
type Deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	cur     atomic.Pointer[epoch] // nil: none made since the last reset
	closed  bool                  // set by close: no new epoch
	closing error                 // the Kind's ErrClosing: the cause Close cancels with
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

func (d *Deadline) init(closing error) { d.closing = closing }

// Context returns the context for a call: the current epoch's, already
// cancelled (with its cause) when the deadline has passed or Close ran.
func (d *Deadline) Context() context.Context {
	e := d.cur.Load()
	if e == nil {
		d.mu.Lock()
		if e = d.cur.Load(); e == nil {
			e = newEpoch()
			if d.closed {
				e.cancel(d.closing)
			}
			d.cur.Store(e)
		}
		d.mu.Unlock()
	}
	return e.ctx
}

// Err is the cause the current epoch was cancelled with (a passed
// deadline, Close), or nil. Unlike Context it never makes an epoch, so a
// call that only checks costs no allocation.
func (d *Deadline) Err() error {
	e := d.cur.Load()
	if e == nil || e.ctx.Err() == nil {
		return nil
	}
	return context.Cause(e.ctx)
}

// Set moves the deadline to t (zero: none).
func (d *Deadline) Set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.closed {
		return
	}
	if e := d.cur.Load(); e != nil && e.ctx.Err() != nil {
		d.cur.Store(nil) // a new epoch, made when a call asks for it
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		d.expire()
		return
	}
	var tm *time.Timer
	tm = time.AfterFunc(dur, func() {
		d.mu.Lock()
		if d.timer == tm { // not moved since: the deadline has passed
			d.timer = nil
			d.expire()
		}
		d.mu.Unlock()
	})
	d.timer = tm
}

// expire ends the current epoch because the deadline passed: its calls in
// flight are cancelled; with none made, the shared passed epoch stands in.
// d.mu is held.
func (d *Deadline) expire() {
	if e := d.cur.Load(); e != nil {
		e.cancel(os.ErrDeadlineExceeded)
		return
	}
	d.cur.Store(passedEpoch)
}

// close releases the timer and cancels the current epoch for good (Close):
// a call that took its reference before Close but reaches the ring only
// after Close's CancelFD is cancelled by its context instead of blocking.
func (d *Deadline) close() {
	d.mu.Lock()
	d.closed = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	e := d.cur.Load()
	if e == nil || e.ctx.Err() != nil { // an epoch to cancel, so Err reports the close
		e = newEpoch()
		d.cur.Store(e)
	}
	e.cancel(d.closing)
	d.mu.Unlock()
}
