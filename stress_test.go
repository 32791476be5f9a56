//go:build linux

package uring_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

const canaryLen = 64

// TestStressCancelCanary is invariants 1 and 3 under load: 64 goroutines run
// 100k ops, a random third of them cancelled or timed out mid-flight. Each
// buffer is fenced by canaries and refilled with a marker after every call:
// a kernel write after the call returned (or outside the buffer) shows up as
// a damaged canary or marker at the next check.
func TestStressCancelCanary(t *testing.T) {
	requireRing(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r, err := uring.New(uring.WithShards(2), uring.WithEntries(64))
	require.NoError(t, err)
	defer r.Close() // also when a check fails early: no goroutine left for goleak to report

	const workers = 64
	total := 100_000
	if testing.Short() {
		total = 20_000
	}
	perWorker := total / workers

	// Sockets that a feeder writes to at random, so reads sometimes complete
	// and sometimes are cancelled while parked in the kernel.
	socks := make([][2]int, workers)
	for i := range socks {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		socks[i] = fds
	}
	defer func() {
		for _, s := range socks {
			unix.Close(s[0])
			unix.Close(s[1])
		}
	}()
	file, err := os.CreateTemp(t.TempDir(), "stress")
	require.NoError(t, err)
	defer file.Close()
	_, err = file.Write(make([]byte, 1<<16))
	require.NoError(t, err)

	stopFeed := make(chan struct{})
	var feedWG sync.WaitGroup
	feedWG.Add(1)
	go func() {
		defer feedWG.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stopFeed:
				return
			default:
			}
			unix.Write(socks[rng.IntN(workers)][1], []byte("feed-data"))
			time.Sleep(20 * time.Microsecond)
		}
	}()

	var cancelled, completed, damaged atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			marker := byte(w + 1)
			buf := make([]byte, canaryLen+256+canaryLen)
			for i := range buf {
				buf[i] = marker
			}
			data := buf[canaryLen : canaryLen+256]
			for i := 0; i < perWorker; i++ {
				// Nothing may have written since the last call returned.
				for j, b := range buf {
					if b != marker {
						damaged.Add(1)
						t.Errorf("worker %d op %d: byte %d is %#x, want marker %#x", w, i, j, b, marker)
						return
					}
				}
				ctx := context.Background()
				var cancel context.CancelFunc = func() {}
				switch rng.IntN(6) {
				case 0:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(300))*time.Microsecond)
				case 1:
					ctx, cancel = context.WithCancel(ctx)
					d := time.Duration(rng.IntN(300)) * time.Microsecond
					time.AfterFunc(d, cancel)
				}
				var op ops.Op
				switch rng.IntN(4) {
				case 0:
					op = ops.Recv(socks[w][0], data[:rng.IntN(len(data))+1], 0)
				case 1:
					op = ops.Read(int(file.Fd()), data, int64(rng.IntN(1<<16)))
				case 2:
					op = ops.Timeout(time.Duration(rng.IntN(200))*time.Microsecond, 0, 0)
				default:
					op = ops.Nop()
				}
				res, err := r.Do(ctx, op)
				cancel()
				switch {
				case err == nil, errors.Is(err, syscall.ETIME):
					completed.Add(1)
				case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
					cancelled.Add(1)
				default:
					t.Errorf("worker %d: unexpected error %v (res %d)", w, err, res.Res)
					return
				}
				for j := range buf {
					buf[j] = marker
				}
			}
		}(w)
	}
	wg.Wait()
	close(stopFeed)
	feedWG.Wait()
	require.Zero(t, damaged.Load())
	require.Equal(t, int64(perWorker*workers), completed.Load()+cancelled.Load())
	require.NotZero(t, cancelled.Load(), "no op was cancelled: the test did not exercise cancellation")
	t.Logf("%d completed, %d cancelled; stats %+v", completed.Load(), cancelled.Load(), r.Stats())
	require.Equal(t, 0, uring.SlotsInUse(r))
	// The ring's own cancels and linked timeouts may still be completing just
	// after the last caller returned; they must all complete, promptly.
	require.Eventually(t, func() bool { return r.Stats().InFlight == 0 }, 5*time.Second, time.Millisecond,
		"internal requests never completed: %+v", r.Stats())
	require.NoError(t, r.Close())
}

// TestCloseWakesEveryWaiter is invariant 4: thousands of ops parked in the
// kernel (and more waiting for a slot) all return ErrClosed when the ring is
// closed, and Close returns only after they have.
func TestCloseWakesEveryWaiter(t *testing.T) {
	requireRing(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r, err := uring.New(uring.WithEntries(256), uring.WithMaxInFlight(2048))
	require.NoError(t, err)
	rd, _ := pipe(t)
	const n = 3000
	var returned, closedErrs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Do(context.Background(), ops.Read(rd, make([]byte, 16), -1))
			if errors.Is(err, uring.ErrClosed) {
				closedErrs.Add(1)
			} else {
				t.Errorf("want ErrClosed, got %v", err)
			}
			returned.Add(1)
		}()
	}
	require.Eventually(t, func() bool { return r.Stats().InFlight >= 2048 }, 20*time.Second, time.Millisecond)
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(60 * time.Second): // a hang detector, not a timing bar
		t.Fatal("Close did not return")
	}
	// Every request the kernel held has completed before Close returned.
	require.Zero(t, r.Stats().InFlight)
	wg.Wait()
	require.Equal(t, int64(n), returned.Load())
	require.Equal(t, int64(n), closedErrs.Load())
}

// TestBackPressure is invariant 3 at its edges: a ring of 8 entries driven
// by 10k concurrent ops loses nothing.
func TestBackPressure(t *testing.T) {
	r := newRing(t, uring.WithEntries(8))
	f, err := os.CreateTemp(t.TempDir(), "bp")
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("0123456789"))
	require.NoError(t, err)
	const n = 10_000
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var op ops.Op
			buf := make([]byte, 1)
			switch i % 3 {
			case 0:
				op = ops.Read(int(f.Fd()), buf, int64(i%10))
			case 1:
				op = ops.Nop()
			default: // holds its slot for a while, whatever the scheduler does
				op = ops.Timeout(50*time.Microsecond, 0, 0)
			}
			res, err := r.Do(context.Background(), op)
			if i%3 == 2 && errors.Is(err, syscall.ETIME) {
				err = nil
			}
			if err != nil {
				t.Errorf("op %d: %v", i, err)
				return
			}
			if i%3 == 0 && (res.N() != 1 || buf[0] != byte('0'+i%10)) {
				t.Errorf("op %d read %q", i, buf[:res.N()])
				return
			}
			ok.Add(1)
		}(i)
	}
	wg.Wait()
	require.Equal(t, int64(n), ok.Load())
	st := r.Stats()
	require.Equal(t, uint64(n), st.Submitted)
	require.Equal(t, uint64(n), st.Completed)
	require.NotZero(t, st.SlotWaits, "10k ops on 16 slots never waited: back-pressure untested")
	t.Logf("slot waits %d, SQ-full waits %d, mean batch %.1f", st.SlotWaits, st.SQFullWaits, st.MeanBatch)
}

// TestCQOverflow holds the CQ so that completions overflow it, then checks
// that every one is still delivered exactly once.
func TestCQOverflow(t *testing.T) {
	r := newRing(t, uring.WithEntries(8), uring.WithMaxInFlight(2000))
	const n = 2000
	var calls atomic.Int64
	all := make(chan struct{})
	release := uring.HoldCQ(r)
	for i := 0; i < n; i++ {
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(_ uring.Result, err error) {
			if err != nil {
				t.Errorf("nop: %v", err)
			}
			if calls.Add(1) == n {
				close(all)
			}
		}))
	}
	require.Equal(t, uint64(n), r.Stats().Submitted)
	release()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d completions delivered", calls.Load(), n)
	}
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, int64(n), calls.Load())
	st := r.Stats()
	require.NotZero(t, st.CQOverflows, "the CQ never overflowed: the test did not exercise overflow")
	require.Zero(t, st.KernelDrops)
	require.Zero(t, st.InFlight)
}

// TestNoLeaks is invariant 8: a closed Ring leaves no goroutine, fd or slot.
func TestNoLeaks(t *testing.T) {
	requireRing(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fdsBefore := openFDs(t)
	for i := 0; i < 20; i++ {
		r, err := uring.New(uring.WithShards(2))
		require.NoError(t, err)
		rd, _ := pipe(t)
		f, err := r.Submit(context.Background(), ops.Read(rd, make([]byte, 1), -1))
		require.NoError(t, err)
		_, err = r.Do(context.Background(), ops.Nop())
		require.NoError(t, err)
		require.NoError(t, r.Close())
		_, err = f.Wait()
		require.ErrorIs(t, err, uring.ErrClosed)
		require.Equal(t, 0, uring.SlotsInUse(r))
	}
	runtime.GC()
	require.LessOrEqual(t, openFDs(t), fdsBefore+40) // the test's own pipes close at cleanup
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}
