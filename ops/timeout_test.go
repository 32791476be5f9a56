//go:build linux

package ops_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

func TestTimeout(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpTimeout)

	start := time.Now()
	res, err := r.Do(t.Context(), ops.Timeout(20*time.Millisecond, 0, 0))
	require.ErrorIs(t, err, unix.ETIME, "an expired timeout completes with ETIME")
	require.Equal(t, -int32(unix.ETIME), res.Res)
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	// IORING_TIMEOUT_ETIME_SUCCESS turns the expiry into a result of ETIME
	// that does not fail (and so does not break a link chain); the CQE
	// still carries -ETIME.
	res, err = r.Do(t.Context(), ops.Timeout(time.Millisecond, 0, ops.TimeoutETimeSuccess))
	require.ErrorIs(t, err, unix.ETIME)
	require.Equal(t, -int32(unix.ETIME), res.Res)

	// A negative duration is clamped to zero: it fires at once.
	_, err = r.Do(t.Context(), ops.Timeout(-time.Hour, 0, 0))
	require.ErrorIs(t, err, unix.ETIME)
}

func TestTimeoutAbs(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpTimeout)
	var now unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &now))
	deadline := time.Duration(now.Nano()) + 15*time.Millisecond

	start := time.Now()
	_, err := r.Do(t.Context(), ops.Timeout(deadline, 0, ops.TimeoutAbs))
	require.ErrorIs(t, err, unix.ETIME)
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, 10*time.Millisecond)
	require.Less(t, elapsed, 500*time.Millisecond, "the timespec was read as an absolute CLOCK_MONOTONIC time")
}

func TestTimeoutCount(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpTimeout)

	// count 2: the timeout completes with 0 once two other completions are
	// posted, long before its time.
	fut, err := r.Submit(t.Context(), ops.Timeout(10*time.Second, 2, 0))
	require.NoError(t, err)
	do(t, r, ops.Nop())
	requirePending(t, fut)
	do(t, r, ops.Nop())
	select {
	case <-fut.Done():
	case <-time.After(time.Second):
		t.Fatal("count-based timeout did not complete")
	}
	res, err := fut.Wait()
	require.NoError(t, err)
	require.Equal(t, int32(0), res.Res)
}

func TestTimeoutMulti(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpTimeout)
	op := ops.TimeoutMulti(5*time.Millisecond, 3)
	require.True(t, op.Multishot())

	ticks := 0
	for res, err := range r.Stream(t.Context(), op) {
		if ticks == 0 && errors.Is(err, unix.EINVAL) {
			t.Skip("kernel lacks IORING_TIMEOUT_MULTISHOT (Linux 6.4)")
		}
		require.ErrorIs(t, err, unix.ETIME)
		ticks++
		require.Equal(t, ticks < 3, res.More(), "tick %d", ticks)
	}
	require.Equal(t, 3, ticks, "count 3: three ticks, the last one final")
}

func TestTimeoutRemove(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpTimeout, ops.OpTimeoutRemove)

	fut, err := r.Submit(t.Context(), ops.Timeout(10*time.Second, 0, 0))
	require.NoError(t, err)
	require.Equal(t, int32(0), do(t, r, ops.TimeoutRemove(fut.ID(), 0)).Res)
	_, err = fut.Wait()
	require.ErrorIs(t, err, unix.ECANCELED, "a removed timeout completes with ECANCELED")

	_, err = r.Do(t.Context(), ops.TimeoutRemove(fut.ID(), 0))
	require.ErrorIs(t, err, unix.ENOENT, "the timeout is gone")

	// An expired timeout cannot be removed either.
	fut, err = r.Submit(t.Context(), ops.Timeout(time.Millisecond, 0, 0))
	require.NoError(t, err)
	_, err = fut.Wait()
	require.ErrorIs(t, err, unix.ETIME)
	_, err = r.Do(t.Context(), ops.TimeoutRemove(fut.ID(), 0))
	require.ErrorIs(t, err, unix.ENOENT)
}

func TestLinkTimeout(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpLinkTimeout, ops.OpRead)
	pr, pw := pipe(t)
	buf := make([]byte, 8)

	// The read on an empty pipe is cut short by its linked timeout.
	results := make([]uring.Result, 2)
	start := time.Now()
	err := r.DoBatch(t.Context(), []ops.Op{
		ops.Read(pr, buf, -1).Link(),
		ops.LinkTimeout(20*time.Millisecond, 0),
	}, results)
	require.NoError(t, err)
	require.ErrorIs(t, results[0].Err(), unix.ECANCELED, "the timed-out read is cancelled")
	require.ErrorIs(t, results[1].Err(), unix.ETIME, "the link timeout fired")
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	// A read that completes in time cancels its timeout instead.
	_, err = unix.Write(pw, []byte("in time"))
	require.NoError(t, err)
	err = r.DoBatch(t.Context(), []ops.Op{
		ops.Read(pr, buf, -1).Link(),
		ops.LinkTimeout(10*time.Second, 0),
	}, results)
	require.NoError(t, err)
	require.NoError(t, results[0].Err())
	require.Equal(t, "in time", string(buf[:results[0].N()]))
	require.ErrorIs(t, results[1].Err(), unix.ECANCELED)

	// A link timeout must follow a linked op.
	_, err = r.Do(t.Context(), ops.LinkTimeout(time.Millisecond, 0))
	require.ErrorIs(t, err, unix.EINVAL)
}

func TestAsyncCancel(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpAsyncCancel, ops.OpRead)
	pr, _ := pipe(t)
	buf := make([]byte, 8)

	fut, err := r.Submit(t.Context(), ops.Read(pr, buf, -1))
	require.NoError(t, err)
	requirePending(t, fut)
	require.Equal(t, int32(0), do(t, r, ops.AsyncCancel(fut.ID(), 0)).Res)
	_, err = fut.Wait()
	require.ErrorIs(t, err, unix.ECANCELED)

	// The request is gone: there is nothing left to cancel.
	_, err = r.Do(t.Context(), ops.AsyncCancel(fut.ID(), 0))
	require.ErrorIs(t, err, unix.ENOENT)

	t.Run("all", func(t *testing.T) {
		// IORING_ASYNC_CANCEL_ALL with a user_data cancels every request
		// that carries it; each request has its own ID, so that is one.
		a, err := r.Submit(t.Context(), ops.Read(pr, buf, -1))
		require.NoError(t, err)
		b, err := r.Submit(t.Context(), ops.Read(pr, make([]byte, 1), -1))
		require.NoError(t, err)
		require.Positive(t, do(t, r, ops.AsyncCancel(a.ID(), ops.CancelAll)).Res)
		_, err = a.Wait()
		require.ErrorIs(t, err, unix.ECANCELED)
		requirePending(t, b)

		// IORING_ASYNC_CANCEL_ANY matches every request in the ring.
		require.Positive(t, do(t, r, ops.AsyncCancel(0, ops.CancelAny|ops.CancelAll)).Res)
		_, err = b.Wait()
		require.ErrorIs(t, err, unix.ECANCELED)
	})
}

func TestCancelFD(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpAsyncCancel, ops.OpRead)
	pr, _ := pipe(t)
	other, _ := pipe(t)

	var futs []*uring.Future
	for range 3 {
		fut, err := r.Submit(t.Context(), ops.Read(pr, make([]byte, 1), -1))
		require.NoError(t, err)
		futs = append(futs, fut)
	}
	bystander, err := r.Submit(t.Context(), ops.Read(other, make([]byte, 1), -1))
	require.NoError(t, err)

	// Without CancelAll one request on the fd is cancelled; with it, the
	// rest. The kernel's count for CancelAll depends on where each request
	// waits (poll or worker), so the test checks the requests themselves.
	require.Equal(t, int32(0), do(t, r, ops.CancelFD(pr, 0)).Res)
	cancelled := 0
	for _, fut := range futs {
		select {
		case <-fut.Done():
			cancelled++
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.Equal(t, 1, cancelled, "one request without CancelAll")
	require.Positive(t, do(t, r, ops.CancelFD(pr, ops.CancelAll)).Res)
	for _, fut := range futs {
		_, err := fut.Wait()
		require.ErrorIs(t, err, unix.ECANCELED)
	}
	requirePending(t, bystander) // another fd's request is untouched

	_, err = r.Do(t.Context(), ops.CancelFD(pr, 0))
	require.ErrorIs(t, err, unix.ENOENT)
	require.Equal(t, int32(0), do(t, r, ops.CancelFD(other, 0)).Res)
	_, err = bystander.Wait()
	require.ErrorIs(t, err, unix.ECANCELED)

	requireRejected(t, r, ops.CancelFD(-1, 0), ops.ErrNegativeFd)
}
