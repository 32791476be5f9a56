package uring

import (
	"context"
	"errors"
	"sync"

	"github.com/goaio/uring/ops"
)

// Async submits op and returns at once; fn runs with the result when op
// completes. Callbacks run one at a time on a goroutine of the Ring's (one per
// shard), never on the goroutine that reaps completions: fn may call Do,
// DoBatch, Async and Close, though while it blocks the callbacks queued
// behind it wait. A Close called from fn does not wait for fn to return.
func (r *Ring) Async(ctx context.Context, op ops.Op, fn func(Result, error)) error {
	if fn == nil {
		return errors.New("uring: Async: nil callback")
	}
	return r.start(ctx, &op, modeCallback, fn, nil)
}

// Future is an operation in flight whose result can be awaited or selected on.
type Future struct {
	done chan struct{}
	res  Result
	err  error
	id   uint64
	s    *shard
}

// Submit submits op and returns a Future for its result. The Future's
// resources are released when the operation completes, whether or not the
// result is ever read.
func (r *Ring) Submit(ctx context.Context, op ops.Op) (*Future, error) {
	f := &Future{done: make(chan struct{})}
	if err := r.start(ctx, &op, modeFuture, nil, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Done is closed when the operation has completed.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait blocks until the operation completes and returns its result.
func (f *Future) Wait() (Result, error) {
	<-f.done
	return f.res, f.err
}

// ID is the request's ID: the target for ops.AsyncCancel, ops.PollRemove
// and ops.TimeoutRemove.
func (f *Future) ID() uint64 { return f.id }

// Cancel asks the kernel to cancel the operation; Wait then reports
// syscall.ECANCELED unless it completed first.
func (f *Future) Cancel() {
	select {
	case <-f.done:
	default:
		if f.s != nil {
			f.s.cancel(f.id)
		}
	}
}

// afterCancel ties a request to ctx: ctx's end cancels it, and its completion
// unregisters the hook so long-lived contexts do not collect them.
type afterCancel struct {
	mu       sync.Mutex
	finished bool
	stop     func() bool
}

func (a *afterCancel) finish() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.finished = true
	stop := a.stop
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (s *shard) hookContext(ctx context.Context, ud uint64, a *afterCancel) {
	stop := context.AfterFunc(ctx, func() { s.cancel(ud) })
	a.mu.Lock()
	if a.finished {
		a.mu.Unlock()
		stop()
		return
	}
	a.stop = stop
	a.mu.Unlock()
}

// start submits op for a callback or future and returns without waiting.
func (r *Ring) start(ctx context.Context, op *ops.Op, mode slotMode, fn func(Result, error), f *Future) error {
	s, err := r.begin(ctx, op, false)
	if err != nil {
		return err
	}
	if s == nil {
		r.startEvery(ctx, op, fn, f)
		return nil
	}
	_, sl, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	var a *afterCancel
	if ctx.Done() != nil {
		a = &afterCancel{}
	}
	sl.cb, sl.fut, sl.after = fn, f, a
	var entries [2]sqe
	n, err := s.setup(ctx, sl, op, mode, entries[:])
	if err != nil {
		return err
	}
	ud := entries[0].userData
	if f != nil {
		f.id, f.s = ud, s
	}
	s.stage(entries[:n], -1)
	if a != nil {
		s.hookContext(ctx, ud, a)
	}
	return nil
}

// startEvery runs an op that spans every shard (a cancel by fd) for a
// callback or future: a goroutine does it and delivers the result. The
// Future has no single request ID, so its ID is 0.
func (r *Ring) startEvery(ctx context.Context, op *ops.Op, fn func(Result, error), f *Future) {
	o := *op
	go func() {
		res, err := r.doEvery(ctx, &o)
		if fn != nil {
			r.shards[0].cbs.push(callback{fn, res, err})
			return
		}
		f.res, f.err = res, err
		close(f.done)
	}()
}
