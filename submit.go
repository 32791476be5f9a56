package uring

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// Submission is combined: a caller stages its SQEs under s.mu, and the caller
// that finds no submitter active becomes the submitter; it submits everything
// staged (its own and others') in one cgo crossing, reaps what completed
// inline in the same crossing, and loops until nothing is staged.

// stage appends prepared SQEs to the staging buffer and makes sure a submitter
// will submit them: the caller becomes the submitter when none is active.
// Entries staged together are submitted together and in order (link chains).
// self is the caller's own slot (its completion, reaped inline, needs no
// wake-up), or -1.
func (s *shard) stage(entries []sqe, self int32) {
	s.mu.Lock()
	if s.state.Load() >= shardStopped {
		// Only a late cancel (a context ending after Close) gets here: its
		// target is long complete and the kernel ring is going.
		s.mu.Unlock()
		return
	}
	for s.staged+len(entries) > s.stageCap {
		s.nSQWaits.Add(1)
		s.spaceWait++
		s.space.Wait()
		s.spaceWait--
		if s.state.Load() >= shardStopped {
			// Close stopped the shard while this late cancel waited: the
			// kernel ring and staging memory are being freed.
			s.mu.Unlock()
			return
		}
	}
	base := unsafe.Add(s.staging[s.cur], s.staged*sqeSize)
	copy(unsafe.Slice((*sqe)(base), len(entries)), entries)
	s.staged += len(entries)
	s.flushLocked(self)
}

// flushLocked runs the submitter loop if no submitter is active. Called with
// mu held; returns with mu released.
func (s *shard) flushLocked(self int32) {
	if s.submitting {
		s.mu.Unlock()
		return
	}
	s.submitting = true
	yielded := false
	for s.staged > 0 {
		// Goroutines that a completion just woke usually submit again at
		// once: give them the processor first so their ops join this batch.
		if !yielded && s.woken.Load() > 0 {
			yielded = true
			s.mu.Unlock()
			runtime.Gosched()
			s.mu.Lock()
			continue
		}
		yielded = false
		buf, n := s.staging[s.cur], s.staged
		s.cur ^= 1
		s.staged = 0
		if s.spaceWait > 0 {
			s.space.Broadcast()
		}
		s.mu.Unlock()
		s.submitBatch(buf, n, self)
		s.mu.Lock()
	}
	s.submitting = false
	s.mu.Unlock()
}

// submitBatch hands n staged SQEs to the kernel in one crossing and, when no
// one else is reaping, dispatches the completions that are ready on return.
func (s *shard) submitBatch(buf unsafe.Pointer, n int, self int32) {
	s.inflight.Add(int64(n))
	s.nSubmitted.Add(uint64(n))
	var err error
	var withdrawn int
	if s.cqMu.TryLock() {
		var got int
		got, withdrawn, err = s.k.submit(buf, n, s.cqes, s.cqeCap)
		s.dispatch(got, self)
		if got == s.cqeCap {
			s.reapAll()
		}
		s.unlockCQ()
		if s.inflight.Load() > 0 {
			s.completer.watch()
		}
	} else {
		_, withdrawn, err = s.k.submit(buf, n, nil, 0)
	}
	if err == syscall.EBADF || err == syscall.EOWNERDEAD {
		e := fmt.Errorf("%w: io_uring_enter: %w", ErrBroken, err)
		s.broken.CompareAndSwap(nil, &e)
	}
	if err != nil && withdrawn > 0 {
		// The enter failed for good and the SQEs the kernel did not take were
		// withdrawn from the SQ: complete exactly those with the error, so
		// no caller waits forever and none gets its memory back while the
		// kernel could still run its op. The rest of the batch was consumed
		// and completes through the CQ.
		s.failBatch(unsafe.Add(buf, (n-withdrawn)*sqeSize), withdrawn, err)
	}
}

// failBatch completes the n staged requests at buf with err, as if the
// kernel had: only for SQEs that never reached it.
func (s *shard) failBatch(buf unsafe.Pointer, n int, err error) {
	en, _ := err.(syscall.Errno)
	if en == 0 {
		en = syscall.EIO
	}
	s.cqMu.Lock()
	out := unsafe.Slice((*cqe)(s.cqes), s.cqeCap)
	entries := unsafe.Slice((*sqe)(buf), n)
	for len(entries) > 0 {
		m := min(len(entries), len(out))
		for i := 0; i < m; i++ {
			out[i] = cqe{userData: entries[i].userData, res: -int32(en)}
		}
		s.dispatch(m, -1)
		entries = entries[m:]
	}
	s.unlockCQ()
}

// submitInternal submits the ring's own request (a cancel).
func (s *shard) submitInternal(e sqe) {
	e.userData = internalID(e.userData)
	entries := [1]sqe{e}
	s.stage(entries[:], -1)
}

// cancel asks the kernel to cancel request ud; the request still completes
// (with -ECANCELED if the cancel took hold) and its caller waits for that.
func (s *shard) cancel(ud uint64) {
	s.submitInternal(sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, addr: ud})
}
