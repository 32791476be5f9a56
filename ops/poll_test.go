//go:build linux

package ops_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// requirePending checks that fut has not completed after a short while.
func requirePending(t *testing.T, fut *uring.Future) {
	t.Helper()
	select {
	case <-fut.Done():
		res, err := fut.Wait()
		t.Fatalf("completed early: %+v, %v", res, err)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestPollAdd(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpPollAdd)
	pr, pw := pipe(t)

	fut, err := r.Submit(t.Context(), ops.PollAdd(pr, unix.POLLIN))
	require.NoError(t, err)
	requirePending(t, fut) // an empty pipe is not readable
	_, err = unix.Write(pw, []byte("x"))
	require.NoError(t, err)
	res, err := fut.Wait()
	require.NoError(t, err)
	require.NotZero(t, res.Res&unix.POLLIN, "the result is the ready mask")

	// An already-ready descriptor completes at once.
	res = do(t, r, ops.PollAdd(pw, unix.POLLOUT))
	require.NotZero(t, res.Res&unix.POLLOUT)
	require.Zero(t, res.Res&unix.POLLIN)

	// Closing the write end makes the read end report hang-up.
	pr2, pw2 := pipe(t)
	fut, err = r.Submit(t.Context(), ops.PollAdd(pr2, unix.POLLIN))
	require.NoError(t, err)
	require.NoError(t, unix.Close(pw2))
	res, err = fut.Wait()
	require.NoError(t, err)
	require.NotZero(t, res.Res&unix.POLLHUP)
}

func TestPollMultishot(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpPollAdd)
	pr, pw := pipe(t)
	op := ops.PollMultishot(pr, unix.POLLIN)
	require.True(t, op.Multishot())
	require.Equal(t, ops.PollAddMulti, op.Len)

	_, err := unix.Write(pw, []byte("1"))
	require.NoError(t, err)
	events := 0
	buf := make([]byte, 8)
	for res, err := range r.Stream(t.Context(), op) {
		require.NoError(t, err)
		require.NotZero(t, res.Res&unix.POLLIN)
		require.True(t, res.More(), "multishot poll stays armed")
		_, err = unix.Read(pr, buf) // drain, then make it readable again
		require.NoError(t, err)
		if events++; events == 3 {
			break
		}
		_, err = unix.Write(pw, []byte("x"))
		require.NoError(t, err)
	}
	require.Equal(t, 3, events)
	requireIdle(t, r) // breaking out removed the poll
}

func TestPollRemove(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpPollAdd, ops.OpPollRemove)
	pr, _ := pipe(t)

	fut, err := r.Submit(t.Context(), ops.PollAdd(pr, unix.POLLIN))
	require.NoError(t, err)
	require.Equal(t, int32(0), do(t, r, ops.PollRemove(fut.ID())).Res)
	_, err = fut.Wait()
	require.ErrorIs(t, err, unix.ECANCELED, "a removed poll completes with ECANCELED")

	// Nothing to remove any more.
	_, err = r.Do(t.Context(), ops.PollRemove(fut.ID()))
	require.ErrorIs(t, err, unix.ENOENT)

	// poll_remove targets polls only, not other requests.
	fut, err = r.Submit(t.Context(), ops.Read(pr, make([]byte, 1), -1))
	require.NoError(t, err)
	_, err = r.Do(t.Context(), ops.PollRemove(fut.ID()))
	require.ErrorIs(t, err, unix.ENOENT)
	fut.Cancel()
	_, err = fut.Wait()
	require.ErrorIs(t, err, unix.ECANCELED)
}

func TestPollRejectsBadInput(t *testing.T) {
	r := newRing(t)
	requireRejected(t, r, ops.PollAdd(-1, unix.POLLIN), ops.ErrNegativeFd)
	requireRejected(t, r, ops.PollMultishot(-1, unix.POLLIN), ops.ErrNegativeFd)
}
