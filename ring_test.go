//go:build linux

package uring_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

func pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func TestNewDefaults(t *testing.T) {
	r := newRing(t)
	require.Equal(t, runtime.GOMAXPROCS(0), r.Shards(), "New() scales with the machine")
	require.Equal(t, 1, newRing(t, uring.WithShards(1)).Shards())
	res, err := r.Do(context.Background(), ops.Nop())
	require.NoError(t, err)
	require.Equal(t, int32(0), res.Res)
	require.True(t, r.Probe().Supports(ops.OpRead))
	require.Greater(t, int(r.Probe().LastOp), int(ops.OpRead))
}

func TestOptions(t *testing.T) {
	r := newRing(t, uring.WithEntries(8), uring.WithCQEntries(64), uring.WithShards(3), uring.WithMaxInFlight(16))
	require.Equal(t, 3, r.Shards())
	other := newRing(t, uring.WithAttachWQ(r))
	_, err := other.Do(context.Background(), ops.Nop())
	require.NoError(t, err)
	sq := newRing(t, uring.WithSQPoll(10*time.Millisecond, -1))
	for i := 0; i < 100; i++ {
		_, err := sq.Do(context.Background(), ops.Nop())
		require.NoError(t, err)
	}
}

func TestReadWriteFile(t *testing.T) {
	r := newRing(t)
	f, err := os.Create(t.TempDir() + "/f")
	require.NoError(t, err)
	defer f.Close()
	ctx := context.Background()
	res, err := r.Do(ctx, ops.Write(int(f.Fd()), []byte("hello, ring"), 0))
	require.NoError(t, err)
	require.Equal(t, 11, res.N())
	buf := make([]byte, 32)
	res, err = r.Do(ctx, ops.Read(int(f.Fd()), buf, 7))
	require.NoError(t, err)
	require.Equal(t, "ring", string(buf[:res.N()]))
}

func TestErrnoErrors(t *testing.T) {
	r := newRing(t)
	rd, _ := pipe(t)
	unix.Close(rd) // now a closed fd number
	_, err := r.Do(context.Background(), ops.Read(rd, make([]byte, 8), 0))
	require.ErrorIs(t, err, syscall.EBADF)
	var en syscall.Errno
	require.True(t, errors.As(err, &en))
}

func TestBadInput(t *testing.T) {
	r := newRing(t)
	ctx := context.Background()
	_, err := r.Do(ctx, ops.Read(-1, make([]byte, 1), 0))
	require.ErrorIs(t, err, ops.ErrNegativeFd)
	_, err = r.Do(ctx, ops.Fallocate(0, 0, 0, -5))
	require.ErrorIs(t, err, ops.ErrNegativeLength)
	_, err = r.Do(ctx, ops.Read(0, nil, -7))
	require.ErrorIs(t, err, ops.ErrNegativeOffset)
	_, err = r.Do(ctx, ops.Op{Opcode: 250})
	require.ErrorIs(t, err, uring.ErrUnsupported)
	require.Contains(t, err.Error(), "op_250")
	_, err = r.Do(ctx, ops.AcceptMulti(0, 0))
	require.ErrorIs(t, err, uring.ErrMultishot)
	require.Equal(t, 0, uring.SlotsInUse(r))
}

func TestClosedRing(t *testing.T) {
	requireRing(t)
	r, err := uring.New()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close()) // idempotent
	_, err = r.Do(context.Background(), ops.Nop())
	require.ErrorIs(t, err, uring.ErrClosed)
	_, err = r.Submit(context.Background(), ops.Nop())
	require.ErrorIs(t, err, uring.ErrClosed)
	require.ErrorIs(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {}), uring.ErrClosed)
	require.ErrorIs(t, r.DoBatch(context.Background(), []ops.Op{ops.Nop()}, make([]uring.Result, 1)), uring.ErrClosed)
	for _, err := range r.Stream(context.Background(), ops.Nop()) {
		require.ErrorIs(t, err, uring.ErrClosed)
	}
	require.Equal(t, -1, r.Fd())
}

func TestContextCancel(t *testing.T) {
	r := newRing(t)
	rd, _ := pipe(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := r.Do(ctx, ops.Read(rd, make([]byte, 8), -1))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0, uring.SlotsInUse(r))

	// Already cancelled: nothing is submitted.
	before := r.Stats().Submitted
	_, err = r.Do(ctx, ops.Nop())
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, before, r.Stats().Submitted)
}

func TestDeadlineIsLinkedTimeout(t *testing.T) {
	r := newRing(t)
	rd, _ := pipe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	before := r.Stats().Submitted
	_, err := r.Do(ctx, ops.Read(rd, make([]byte, 8), -1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// The read and its linked timeout went in together; no separate cancel.
	require.Equal(t, before+2, r.Stats().Submitted)
}

func TestCompletedDespiteCancel(t *testing.T) {
	// Data is there before the deadline: the real result wins.
	r := newRing(t)
	rd, wr := pipe(t)
	_, err := unix.Write(wr, []byte("data"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	buf := make([]byte, 8)
	res, err := r.Do(ctx, ops.Read(rd, buf, -1))
	require.NoError(t, err)
	require.Equal(t, "data", string(buf[:res.N()]))
}

func TestFuture(t *testing.T) {
	r := newRing(t)
	f, err := r.Submit(context.Background(), ops.Timeout(10*time.Millisecond, 0, 0))
	require.NoError(t, err)
	select {
	case <-f.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("future never completed")
	}
	_, err = f.Wait()
	require.ErrorIs(t, err, syscall.ETIME)

	rd, _ := pipe(t)
	f, err = r.Submit(context.Background(), ops.Read(rd, make([]byte, 4), -1))
	require.NoError(t, err)
	require.NotZero(t, f.ID())
	f.Cancel()
	_, err = f.Wait()
	require.ErrorIs(t, err, syscall.ECANCELED)

	ctx, cancel := context.WithCancel(context.Background())
	f, err = r.Submit(ctx, ops.Read(rd, make([]byte, 4), -1))
	require.NoError(t, err)
	cancel()
	_, err = f.Wait()
	require.ErrorIs(t, err, context.Canceled)
	require.Eventually(t, func() bool { return uring.SlotsInUse(r) == 0 }, 5*time.Second, time.Millisecond)
}

func TestAsyncCallback(t *testing.T) {
	r := newRing(t)
	const n = 5000
	got := make(chan error, n)
	for i := 0; i < n; i++ {
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(res uring.Result, err error) {
			got <- err
		}))
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-got:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d callbacks ran", i, n)
		}
	}
	select {
	case <-got:
		t.Fatal("a callback ran twice")
	case <-time.After(20 * time.Millisecond):
	}
}

func TestAsyncCallbackMaySubmit(t *testing.T) {
	r := newRing(t)
	done := make(chan error, 1)
	require.NoError(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {
		_, err := r.Do(context.Background(), ops.Nop())
		done <- err
	}))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Do inside a callback deadlocked")
	}
}

func TestBatchLinkChain(t *testing.T) {
	r := newRing(t)
	f, err := os.Create(t.TempDir() + "/chain")
	require.NoError(t, err)
	defer f.Close()
	fd := int(f.Fd())
	buf := make([]byte, 5)
	batch := []ops.Op{
		ops.Write(fd, []byte("abcde"), 0).Link(),
		ops.Fsync(fd).Link(),
		ops.Read(fd, buf, 0),
	}
	res := make([]uring.Result, len(batch))
	require.NoError(t, r.DoBatch(context.Background(), batch, res))
	for _, x := range res {
		require.NoError(t, x.Err())
	}
	require.Equal(t, "abcde", string(buf))

	// A failing link cancels the rest of the chain.
	batch = []ops.Op{ops.Read(999999, buf, 0).Link(), ops.Nop()}
	require.NoError(t, r.DoBatch(context.Background(), batch, res))
	require.ErrorIs(t, res[0].Err(), syscall.EBADF)
	require.ErrorIs(t, res[1].Err(), syscall.ECANCELED)

	// A link timeout bounds a read on an empty pipe.
	rd, _ := pipe(t)
	batch = []ops.Op{ops.Read(rd, buf, -1).Link(), ops.LinkTimeout(10*time.Millisecond, 0)}
	require.NoError(t, r.DoBatch(context.Background(), batch, res))
	require.ErrorIs(t, res[0].Err(), syscall.ECANCELED)
	require.ErrorIs(t, res[1].Err(), syscall.ETIME)

	big := make([]ops.Op, 100000)
	require.ErrorIs(t, r.DoBatch(context.Background(), big, make([]uring.Result, len(big))), uring.ErrBatchTooLarge)
}

func TestBatchCancel(t *testing.T) {
	r := newRing(t)
	rd, _ := pipe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	res := make([]uring.Result, 2)
	err := r.DoBatch(ctx, []ops.Op{ops.Read(rd, make([]byte, 1), -1), ops.Read(rd, make([]byte, 1), -1)}, res)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, res[0].Err(), syscall.ECANCELED)
	require.Equal(t, 0, uring.SlotsInUse(r))
}

func TestStreamMultishotTimeout(t *testing.T) {
	r := newRing(t)
	if !r.Probe().Supports(ops.OpTimeout) {
		t.Skip("kernel lacks timeout")
	}
	n := 0
	for res, err := range r.Stream(context.Background(), ops.TimeoutMulti(time.Millisecond, 5)) {
		if errors.Is(err, syscall.EINVAL) {
			t.Skip("kernel lacks IORING_TIMEOUT_MULTISHOT (Linux 6.4)")
		}
		require.ErrorIs(t, err, syscall.ETIME)
		n++
		if n == 5 {
			require.False(t, res.More())
		}
	}
	require.Equal(t, 5, n)
	require.Equal(t, 0, uring.SlotsInUse(r))
}

func TestStreamBreakCancels(t *testing.T) {
	r := newRing(t)
	rd, wr := pipe(t)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				unix.Write(wr, []byte{1})
				time.Sleep(time.Millisecond)
			}
		}
	}()
	defer close(stop)
	n := 0
	for res, err := range r.Stream(context.Background(), ops.PollMultishot(rd, unix.POLLIN)) {
		require.NoError(t, err)
		require.NotZero(t, res.Res&unix.POLLIN)
		var b [64]byte
		unix.Read(rd, b[:])
		if n++; n == 3 {
			break
		}
	}
	require.Equal(t, 3, n)
	require.Equal(t, 0, uring.SlotsInUse(r))
	// The cancel that breaking sent completes on its own, just after.
	require.Eventually(t, func() bool { return r.Stats().InFlight == 0 }, 5*time.Second, time.Millisecond)
}

func TestStreamContext(t *testing.T) {
	r := newRing(t)
	rd, _ := pipe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var last error
	for _, err := range r.Stream(ctx, ops.PollMultishot(rd, unix.POLLIN)) {
		last = err
	}
	require.ErrorIs(t, last, context.DeadlineExceeded)
}

func TestStats(t *testing.T) {
	r := newRing(t)
	for i := 0; i < 10; i++ {
		_, err := r.Do(context.Background(), ops.Nop())
		require.NoError(t, err)
	}
	st := r.Stats()
	require.Equal(t, uint64(10), st.Submitted)
	require.Equal(t, uint64(10), st.Completed)
	require.Zero(t, st.InFlight)
	require.NotZero(t, st.Batches)
	require.Greater(t, st.MeanBatch, 0.0)
}

func TestDefault(t *testing.T) {
	requireRing(t)
	r1, err := uring.Default()
	require.NoError(t, err)
	r2, _ := uring.Default()
	require.Same(t, r1, r2)
	_, err = r1.Do(context.Background(), ops.Nop())
	require.NoError(t, err)
}

func TestCancelAfterClose(t *testing.T) {
	requireRing(t)
	r, err := uring.New()
	require.NoError(t, err)
	f, err := r.Submit(context.Background(), ops.Nop())
	require.NoError(t, err)
	_, err = f.Wait()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rd, _ := pipe(t)
	f2, err := r.Submit(ctx, ops.Read(rd, make([]byte, 1), -1))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, err = f2.Wait()
	require.ErrorIs(t, err, uring.ErrClosed)
	f.Cancel() // after Close: nothing to do, nothing to crash
	cancel()   // the context hook fires after Close
	time.Sleep(10 * time.Millisecond)
}

func TestBatchDeadlineIsLinkedTimeout(t *testing.T) {
	r := newRing(t)
	rd, _ := pipe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	before := r.Stats().Submitted
	res := make([]uring.Result, 3)
	err := r.DoBatch(ctx, []ops.Op{ops.Nop(), ops.Read(rd, make([]byte, 1), -1), ops.Read(rd, make([]byte, 1), -1)}, res)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, res[0].Err())
	require.ErrorIs(t, res[1].Err(), syscall.ECANCELED)
	require.ErrorIs(t, res[2].Err(), syscall.ECANCELED)
	// Three ops, each with its linked timeout, went in as one submission.
	require.GreaterOrEqual(t, r.Stats().Submitted, before+6)
	require.Equal(t, 0, uring.SlotsInUse(r))
}

func TestCancelFD(t *testing.T) {
	r := newRing(t, uring.WithShards(2))
	rd, _ := pipe(t)
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := r.Do(context.Background(), ops.Read(rd, make([]byte, 1), -1))
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return r.Stats().InFlight == n }, 5*time.Second, time.Millisecond)
	got, err := r.CancelFD(context.Background(), rd)
	require.NoError(t, err)
	require.Equal(t, n, got)
	for i := 0; i < n; i++ {
		require.ErrorIs(t, <-errs, syscall.ECANCELED)
	}
	got, err = r.CancelFD(context.Background(), rd)
	require.NoError(t, err)
	require.Zero(t, got)
}

// The counters say what happened to each op: a NOP completes inline (no
// park, no completer wake-up, one enter), a read of an empty pipe parks its
// caller until the completer, woken by the write, reaps it.
func TestStatsCounters(t *testing.T) {
	r := newRing(t, uring.WithShards(1))
	ctx := context.Background()
	for range 10 {
		_, err := r.Do(ctx, ops.Nop())
		require.NoError(t, err)
	}
	st := r.Stats()
	require.Equal(t, uint64(10), st.Submitted)
	require.Zero(t, st.Parks, "inline completions need no park")
	require.Equal(t, uint64(10), st.Enters, "one enter per lone op")
	require.InDelta(t, 1.0, st.EntersPerOp(), 1e-9)
	require.Zero(t, st.ParksPerOp())

	pr, pw := pipe(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(pw, []byte("x"))
	}()
	buf := make([]byte, 1)
	res, err := r.Do(ctx, ops.Read(pr, buf, -1))
	require.NoError(t, err)
	require.Equal(t, 1, res.N())
	st2 := r.Stats()
	require.Equal(t, st.Parks+1, st2.Parks, "the pipe read parked its caller")
	require.Greater(t, st2.Wakeups, st.Wakeups, "the completer was woken to reap it")
	require.Zero(t, st2.TaskrunEnters)
}

// TestIdlePollerSleeps: the poller looks at the CQ every pollerRecheck
// while requests are in flight (a completion can signal nothing), and not
// at all once none are: an idle Ring costs no wake-ups, even right after
// many requests that parked (whose enters gave a sleeping poller a
// deadline).
func TestIdlePollerSleeps(t *testing.T) {
	r := newRing(t, uring.WithShards(1))
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				_, err := r.Do(ctx, ops.Timeout(time.Duration(i%5)*time.Millisecond, 0, 0))
				if !errors.Is(err, syscall.ETIME) {
					t.Errorf("timeout: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // a deadline set just before the end has fired
	before := r.Stats().Wakeups
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, r.Stats().Wakeups-before, "the poller woke with nothing in flight")
}
