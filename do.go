package uring

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/goaio/uring/ops"
)

var errDeadline = context.DeadlineExceeded

// Do submits op and parks the calling goroutine until it completes.
//
// A negative result is returned as a syscall.Errno. If ctx is cancelled first
// the operation is cancelled and Do returns ctx.Err(); a deadline on ctx is
// handed to the kernel as a linked timeout. Either way Do returns only after
// the kernel is done with op's memory, and if the operation completed anyway
// its real result is returned. Do with a multishot op returns ErrMultishot.
func (r *Ring) Do(ctx context.Context, op ops.Op) (Result, error) {
	if r.closed.Load() {
		return Result{}, ErrClosed
	}
	s := r.shardFor(&op)
	if s == nil {
		return r.doEvery(ctx, &op)
	}
	return s.do(ctx, &op)
}

func (s *shard) check(op *ops.Op) error {
	if err := op.Err(); err != nil {
		return err
	}
	if e := s.broken.Load(); e != nil {
		return *e
	}
	if !s.probe.supported[op.Opcode] {
		return &UnsupportedError{What: "operation " + op.Opcode.String()}
	}
	return nil
}

func (s *shard) do(ctx context.Context, op *ops.Op) (Result, error) {
	if err := s.check(op); err != nil {
		return Result{}, err
	}
	if op.Multishot() {
		return Result{}, ErrMultishot
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	idx, sl, err := s.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	var entries [2]sqe
	n, err := s.setup(ctx, sl, op, modeWait, entries[:])
	if err != nil {
		return Result{}, err
	}
	s.stage(entries[:n], idx)
	if sl.selfDone {
		// Completed inline and dispatched by this goroutine: no wake-up needed.
	} else if done := ctx.Done(); done == nil {
		<-sl.done
	} else {
		select {
		case <-sl.done:
		case <-done:
			s.cancelFor(ctx, sl)
			<-sl.done
		}
	}
	if sl.counted {
		s.woken.Add(-1)
	}
	res, err := s.outcome(sl)
	s.release(idx)
	return res, err
}

// setup fills slot sl for op and encodes its SQE into entries[0], followed by
// a linked timeout in entries[1] when ctx has a deadline. It returns how many
// entries to stage. On error the slot is released.
func (s *shard) setup(ctx context.Context, sl *slot, op *ops.Op, mode slotMode, entries []sqe) (int, error) {
	sl.mode = mode
	sl.ctx = ctx
	if err := s.prepare(&entries[0], sl, op); err != nil {
		s.abort(sl)
		return 0, err
	}
	entries[0].flags &^= ops.FlagIOLink | ops.FlagIOHardLink // a lone op never links to a stranger's
	n := 1
	// The op and its linked timeout go into the SQ together; a ring of one
	// SQ entry cannot hold both, and there ctx's own timer cancels instead.
	if dl, ok := ctx.Deadline(); ok && !op.Multishot() && len(entries) > 1 && s.stageCap >= 2 {
		d := time.Until(dl)
		if d <= 0 {
			s.abort(sl)
			return 0, errDeadline
		}
		sl.deadline = dl
		sc := s.scratchAt(sl)
		sc.lts[0], sc.lts[1] = int64(d/time.Second), int64(d%time.Second)
		entries[0].flags |= ops.FlagIOLink
		entries[1] = sqe{opcode: uint8(ops.OpLinkTimeout), fd: -1, len: 1,
			addr: scratchAddr(&sc.lts), userData: tagInternal | entries[0].userData}
		n = 2
	}
	sl.busy.Store(true) // publishes the slot to the dispatcher
	return n, nil
}

// abort undoes setup for a request that was never submitted.
func (s *shard) abort(sl *slot) {
	s.finishCleanup(sl)
	s.release(sl.idx)
}

// cancelFor cancels sl's request because its ctx is done. A deadline already
// armed as a linked timeout needs no cancel: the kernel fires it.
func (s *shard) cancelFor(ctx context.Context, sl *slot) {
	if !sl.deadline.IsZero() && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return
	}
	s.cancel(s.userData(sl.idx))
}

// DoBatch submits batch in one submission, in order, and waits for all of
// them; results[i] receives batch[i]'s completion (see Result.Err). Ops with
// Link or HardLink set form a chain with the op after them; the last op's
// link flags are ignored. If ctx is done first the remaining ops are cancelled
// and DoBatch returns ctx.Err() after every op completed.
func (r *Ring) DoBatch(ctx context.Context, batch []ops.Op, results []Result) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if len(results) < len(batch) {
		return errors.New("uring: DoBatch: results shorter than batch")
	}
	if len(batch) == 0 {
		return nil
	}
	s, err := r.batchShard(batch)
	if err != nil {
		return err
	}
	return s.doBatch(ctx, batch, results)
}

func (s *shard) doBatch(ctx context.Context, batch []ops.Op, results []Result) error {
	if len(batch) > s.stageCap || len(batch) > len(s.slots) {
		return ErrBatchTooLarge
	}
	for i := range batch {
		if err := s.check(&batch[i]); err != nil {
			return err
		}
		if batch[i].Multishot() {
			return ErrMultishot
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	idx := make([]int32, len(batch))
	if err := s.acquireN(ctx, idx); err != nil {
		return err
	}
	entries := make([]sqe, len(batch))
	for i := range batch {
		sl := &s.slots[idx[i]]
		sl.mode = modeWait
		sl.ctx = ctx
		if err := s.prepare(&entries[i], sl, &batch[i]); err != nil {
			for _, j := range idx {
				s.abort(&s.slots[j])
			}
			return err
		}
	}
	entries[len(entries)-1].flags &^= ops.FlagIOLink | ops.FlagIOHardLink
	entries = s.linkBatchDeadline(ctx, idx, entries)
	for _, i := range idx {
		s.slots[i].busy.Store(true)
	}
	s.stage(entries, -1)
	done := ctx.Done()
	cancelled := false
	for i, j := range idx {
		sl := &s.slots[j]
		if done == nil {
			<-sl.done
		} else {
			select {
			case <-sl.done:
			case <-done:
				cancelled = true
				for _, k := range idx[i:] {
					s.cancel(s.userData(k))
				}
				<-sl.done
				done = nil
			}
		}
		if sl.counted {
			s.woken.Add(-1)
		}
		var err error
		results[i], err = s.outcome(sl)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			cancelled = true // a linked timeout may fire before ctx's own timer
		}
		s.release(j)
	}
	if cancelled {
		if err := ctx.Err(); err != nil {
			return err
		}
		return errDeadline
	}
	return nil
}

// linkBatchDeadline gives each op of a batch that is not part of a link chain
// a linked timeout for ctx's deadline. Chained ops (a timeout would split the
// chain) are cancelled when ctx ends instead, as is everything when the
// timeouts would not fit in one submission.
func (s *shard) linkBatchDeadline(ctx context.Context, idx []int32, entries []sqe) []sqe {
	dl, ok := ctx.Deadline()
	if !ok {
		return entries
	}
	const linked = ops.FlagIOLink | ops.FlagIOHardLink
	standalone := func(i int) bool {
		return entries[i].flags&linked == 0 && (i == 0 || entries[i-1].flags&linked == 0)
	}
	n := len(entries)
	for i := range entries {
		if standalone(i) {
			n++
		}
	}
	d := time.Until(dl)
	if n > s.stageCap || d <= 0 {
		return entries
	}
	out := make([]sqe, 0, n)
	for i, e := range entries {
		if !standalone(i) {
			out = append(out, e)
			continue
		}
		sl := &s.slots[idx[i]]
		sl.deadline = dl
		sc := s.scratchAt(sl)
		sc.lts[0], sc.lts[1] = int64(d/time.Second), int64(d%time.Second)
		e.flags |= ops.FlagIOLink
		out = append(out, e, sqe{opcode: uint8(ops.OpLinkTimeout), fd: -1, len: 1,
			addr: scratchAddr(&sc.lts), userData: tagInternal | e.userData})
	}
	return out
}

// Async submits op and returns at once; fn runs with the result when op
// completes. Callbacks run one at a time on a goroutine of the Ring's (one per
// shard), never on the goroutine that reaps completions: fn may call Do,
// DoBatch, Async and Close, though while it blocks the callbacks queued
// behind it wait. A Close called from fn does not wait for fn to return.
func (r *Ring) Async(ctx context.Context, op ops.Op, fn func(Result, error)) error {
	if fn == nil {
		return errors.New("uring: Async: nil callback")
	}
	_, err := r.start(ctx, &op, modeCallback, fn, nil)
	return err
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
	if _, err := r.start(ctx, &op, modeFuture, nil, f); err != nil {
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
func (r *Ring) start(ctx context.Context, op *ops.Op, mode slotMode, fn func(Result, error), f *Future) (uint64, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	s := r.shardFor(op)
	if s == nil {
		return 0, r.startEvery(ctx, op, fn, f)
	}
	if err := s.check(op); err != nil {
		return 0, err
	}
	if op.Multishot() {
		return 0, ErrMultishot
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	_, sl, err := s.acquire(ctx)
	if err != nil {
		return 0, err
	}
	var a *afterCancel
	if ctx.Done() != nil {
		a = &afterCancel{}
	}
	sl.cb, sl.fut, sl.after = fn, f, a
	var entries [2]sqe
	n, err := s.setup(ctx, sl, op, mode, entries[:])
	if err != nil {
		return 0, err
	}
	ud := entries[0].userData
	if f != nil {
		f.id, f.s = ud, s
	}
	s.stage(entries[:n], -1)
	if a != nil {
		s.hookContext(ctx, ud, a)
	}
	return ud, nil
}

// startEvery runs an op that spans every shard (a cancel by fd) for a
// callback or future: a goroutine does it and delivers the result. The
// Future has no single request ID, so its ID is 0.
func (r *Ring) startEvery(ctx context.Context, op *ops.Op, fn func(Result, error), f *Future) error {
	if err := r.shards[0].check(op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
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
	return nil
}

// outcomeErr maps a final negative result for calls that did not go through
// outcome (streams).
func (s *shard) streamErr(ctx context.Context, res int32) error {
	en := syscall.Errno(-res)
	if en == syscall.ECANCELED {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closed.Load() {
			return ErrClosed
		}
	}
	return errnoErr(en)
}

// CancelFD cancels every request on fd, on every shard (IORING_ASYNC_CANCEL_FD,
// Linux 5.19), and returns how many it found. The cancelled calls still return
// only once the kernel is done with them; a File's Close uses this before it
// closes the descriptor.
func (r *Ring) CancelFD(ctx context.Context, fd int) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	op := ops.CancelFD(fd, ops.CancelAll)
	res, err := r.doEvery(ctx, &op)
	if errors.Is(err, syscall.ENOENT) {
		return 0, nil
	}
	return res.N(), err
}
