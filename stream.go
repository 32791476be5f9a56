package uring

import (
	"context"
	"iter"
	"sync"

	"github.com/goaio/uring/ops"
)

// stream queues a multishot request's completions for its consumer. The
// dispatcher never blocks on a slow consumer: the queue grows instead.
type stream struct {
	mu     sync.Mutex
	items  []Result
	final  bool
	notify chan struct{}
}

func (st *stream) Push(r Result, final bool) {
	st.mu.Lock()
	st.items = append(st.items, r)
	st.final = st.final || final
	st.mu.Unlock()
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

// take swaps out the queued items, reusing buf's storage for the next ones.
func (st *stream) take(buf []Result) ([]Result, bool) {
	st.mu.Lock()
	items, final := st.items, st.final
	st.items = buf[:0]
	st.mu.Unlock()
	return items, final
}

// Stream submits op and yields each of its completions until the final one
// (the one without IORING_CQE_F_MORE): connections from ops.AcceptMulti,
// messages from ops.RecvMulti, readiness from ops.PollMultishot, ticks from
// ops.TimeoutMulti. A single-shot op yields once.
//
// A completion with a negative result is yielded with its error. Breaking out
// of the loop, or ctx ending, cancels the operation; the iterator returns once
// the kernel has posted the final completion. When ctx ended, the last value
// yielded carries ctx.Err(). After a break nothing the consumer did not see
// is kept: connections accepted meanwhile are closed, and provided buffers
// (of a BufferRing of this Ring) are handed back to the kernel.
func (r *Ring) Stream(ctx context.Context, op ops.Op) iter.Seq2[Result, error] {
	return func(yield func(Result, error) bool) {
		s, err := r.begin(ctx, &op, true)
		if err != nil {
			yield(Result{}, err)
			return
		}
		if s == nil {
			s = r.pick() // a cancel by fd yields once: the caller's shard answers
		}
		_, sl, err := s.acquire(ctx)
		if err != nil {
			yield(Result{}, err)
			return
		}
		st := &stream{notify: make(chan struct{}, 1)}
		sl.sink = st
		var entries [1]sqe
		if _, err := s.setup(ctx, sl, &op, modeStream, entries[:]); err != nil {
			yield(Result{}, err)
			return
		}
		ud := entries[0].userData
		s.stage(entries[:], -1)

		done := ctx.Done()
		stopped := false // the consumer broke out: yield nothing more
		var spare []Result
		for {
			items, final := st.take(spare)
			for i, res := range items {
				if stopped {
					r.discard(s, &op, res)
					continue
				}
				var err error
				if res.Res < 0 {
					err = s.streamErr(ctx, res.Res)
				}
				if !yield(res, err) && !(final && i == len(items)-1) {
					stopped = true
					s.cancel(ud)
				}
			}
			if final {
				return
			}
			spare = items
			select {
			case <-st.notify:
			case <-done:
				done = nil
				s.cancel(ud)
			}
		}
	}
}

// Sink receives every completion of a multishot request, in order, from the
// goroutine that reaps it. Push must return quickly and must not block or
// call into the Ring. The completion with final set is the last; the
// request's slot is free by the time it is pushed.
type Sink interface {
	Push(res Result, final bool)
}

// Multi is a multishot request started by Ring.Multishot.
type Multi struct {
	s  *shard
	id uint64
}

// Multishot submits op and hands each of its completions to sink as the ring
// reaps them: the callback form of Stream, for a consumer that keeps one
// request armed across many calls of its own (a multishot receive into a
// BufferRing, a multishot poll) and wants each completion pushed to it. It
// returns once op is staged for submission; an error means nothing was
// submitted.
func (r *Ring) Multishot(op ops.Op, sink Sink) (Multi, error) {
	s, err := r.begin(context.Background(), &op, true)
	if err != nil {
		return Multi{}, err
	}
	if s == nil {
		s = r.pick()
	}
	_, sl, err := s.acquire(context.Background())
	if err != nil {
		return Multi{}, err
	}
	sl.sink = sink
	var entries [1]sqe
	if _, err := s.setup(context.Background(), sl, &op, modeStream, entries[:]); err != nil {
		return Multi{}, err
	}
	s.stage(entries[:], -1)
	return Multi{s, entries[0].userData}, nil
}

// Cancel asks the kernel to end the request; its final completion follows.
func (m Multi) Cancel() {
	if m.s != nil {
		m.s.cancel(m.id)
	}
}
