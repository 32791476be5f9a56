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
	mu    sync.Mutex
	timer *time.Timer
	cur   atomic.Pointer[epoch]
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
		if e = d.cur.Load(); e == nil {
			e = newEpoch()
			d.cur.Store(e)
		}
		d.mu.Unlock()
	}
	if e.ctx.Err() != nil {
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

// stop releases the timer (Close).
func (d *deadline) stop() {
	d.mu.Lock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.mu.Unlock()
}
