//go:build linux

package net

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadline is one direction's deadline. Calls run under the current epoch's
// context; the deadline passing cancels that context, which cancels the
// calls in flight (moving a deadline while a call is blocked takes effect)
// and fails new ones at once. Setting a deadline after one passed starts a
// new epoch. No timer runs while no deadline is set.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cur    atomic.Pointer[epoch]
	closed bool // set by close: no new epoch
}

type epoch struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newEpoch() *epoch {
	ctx, cancel := context.WithCancel(context.Background())
	return &epoch{ctx, cancel}
}

// context returns the context for a call, or nil when the deadline has passed.
func (d *deadline) context() context.Context {
	e := d.cur.Load()
	if e == nil {
		d.mu.Lock()
		if e = d.cur.Load(); e == nil && !d.closed {
			e = newEpoch()
			d.cur.Store(e)
		}
		d.mu.Unlock()
	}
	if e == nil || e.ctx.Err() != nil {
		return nil
	}
	return e.ctx
}

// set moves the deadline to t (zero: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.closed {
		return
	}
	e := d.cur.Load()
	if e == nil || e.ctx.Err() != nil {
		e = newEpoch()
		d.cur.Store(e)
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		e.cancel()
		return
	}
	var tm *time.Timer
	tm = time.AfterFunc(dur, func() {
		d.mu.Lock()
		if d.timer == tm { // not moved since: the deadline has passed
			d.timer = nil
			e.cancel()
		}
		d.mu.Unlock()
	})
	d.timer = tm
}

// close releases the timer and cancels the current epoch for good (Close):
// a call that took its reference before Close but reaches the ring only
// after Close's CancelFD is cancelled by its context instead of blocking.
func (d *deadline) close() {
	d.mu.Lock()
	d.closed = true
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if e := d.cur.Load(); e != nil {
		e.cancel()
	}
	d.mu.Unlock()
}
