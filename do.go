package uring

import (
	"context"
	"errors"
	"syscall"
	"time"
	"unsafe"

	"github.com/goaio/uring/ops"
)

var errDeadline = context.DeadlineExceeded

// begin is what every call that submits an op does first: the Ring is open,
// op is valid and runs on a shard that has it, and ctx is live. s is nil for
// an op that runs on every shard (a cancel by fd or of any request), which
// shard 0 admits for all.
func (r *Ring) begin(ctx context.Context, op *ops.Op, multishot bool) (*shard, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	s := r.shardFor(op)
	return s, r.admit(ctx, s, multishot, unsafe.Slice(op, 1))
}

// admit is begin's check of batch on shard s (nil: every shard, which
// shard 0 answers for), shared with DoBatch, whose shard batchShard picks.
func (r *Ring) admit(ctx context.Context, s *shard, multishot bool, batch []ops.Op) error {
	t := s
	if t == nil {
		t = r.shards[0]
	}
	for i := range batch {
		if err := t.admit(&batch[i], multishot); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Do submits op and parks the calling goroutine until it completes.
//
// A negative result is returned as a syscall.Errno. If ctx is cancelled first
// the operation is cancelled and Do returns ctx.Err(); a deadline on ctx is
// handed to the kernel as a linked timeout. Either way Do returns only after
// the kernel is done with op's memory, and if the operation completed anyway
// its real result is returned. Do with a multishot op returns ErrMultishot.
func (r *Ring) Do(ctx context.Context, op ops.Op) (Result, error) {
	s, err := r.begin(ctx, &op, false)
	if err != nil {
		return Result{}, err
	}
	if s == nil {
		return r.doEvery(ctx, &op)
	}
	return s.do(ctx, &op)
}

// do runs an admitted op on s and waits for it.
func (s *shard) do(ctx context.Context, op *ops.Op) (Result, error) {
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
	s.await(ctx, sl, func() { s.cancelFor(ctx, sl) })
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
	if mode == modeWait {
		sl.waitable()
	}
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
		entries[0].flags |= ops.FlagIOLink
		entries[1] = s.linkTimeout(sl, d, entries[0].userData)
		n = 2
	}
	sl.busy.Store(true) // publishes the slot to the dispatcher
	return n, nil
}

// linkTimeout is the SQE of a linked timeout of d for request ud, with its
// timespec in sl's scratch.
func (s *shard) linkTimeout(sl *slot, d time.Duration, ud uint64) sqe {
	sc := s.scratchAt(sl)
	sc.lts[0], sc.lts[1] = int64(d/time.Second), int64(d%time.Second)
	return sqe{opcode: uint8(ops.OpLinkTimeout), fd: -1, len: 1, addr: scratchAddr(&sc.lts), userData: internalID(ud)}
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
	s.cancel(s.userData(sl))
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
	if len(batch) > s.stageCap || len(batch) > s.slots.n {
		return ErrBatchTooLarge
	}
	if err := r.admit(ctx, s, false, batch); err != nil {
		return err
	}
	return s.doBatch(ctx, batch, results)
}

func (s *shard) doBatch(ctx context.Context, batch []ops.Op, results []Result) error {
	idx := make([]int32, len(batch))
	if err := s.acquireN(ctx, idx); err != nil {
		return err
	}
	entries := make([]sqe, len(batch))
	for i := range batch {
		sl := s.slots.get(idx[i])
		sl.mode = modeWait
		sl.waitable()
		sl.ctx = ctx
		if err := s.prepare(&entries[i], sl, &batch[i]); err != nil {
			for _, j := range idx {
				s.abort(s.slots.get(j))
			}
			return err
		}
	}
	entries[len(entries)-1].flags &^= ops.FlagIOLink | ops.FlagIOHardLink
	entries = s.linkBatchDeadline(ctx, idx, entries)
	for _, i := range idx {
		s.slots.get(i).busy.Store(true)
	}
	s.stage(entries, -1)
	cancelled, swept := false, false
	for i, j := range idx {
		sl := s.slots.get(j)
		var cancelRest func()
		if !swept {
			cancelRest = func() {
				for _, k := range idx[i:] {
					s.cancel(s.userData(s.slots.get(k)))
				}
			}
		}
		if s.await(ctx, sl, cancelRest) {
			cancelled, swept = true, true
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
		sl := s.slots.get(idx[i])
		sl.deadline = dl
		e.flags |= ops.FlagIOLink
		out = append(out, e, s.linkTimeout(sl, d, e.userData))
	}
	return out
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
