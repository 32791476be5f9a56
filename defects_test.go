//go:build linux

package uring_test

// Tests for the defects a code review found (issue 9), one per defect, each
// named for it. Every wait is bounded so that a regression fails with a
// message instead of hanging the suite.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// hangLimit bounds every wait in these tests: far longer than any correct
// path takes, short enough that a hang is reported rather than timing out
// the whole package.
const hangLimit = 20 * time.Second

// within runs fn on a goroutine and fails the test if it has not returned
// within hangLimit.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Fatalf("%s: still blocked after %v", what, hangLimit)
	}
}

// blockingRead submits a read of an empty pipe: it stays in flight until the
// pipe's write end gets data or is closed (the returned release does that).
func blockingRead(t *testing.T, r *uring.Ring) (*uring.Future, func()) {
	t.Helper()
	rd, wr := pipe(t)
	buf := make([]byte, 1)
	f, err := r.Submit(context.Background(), ops.Read(rd, buf, -1))
	require.NoError(t, err)
	var once sync.Once
	release := func() {
		once.Do(func() {
			syscall.Write(wr, []byte{1})
			f.Wait()
		})
	}
	t.Cleanup(release)
	return f, release
}

func TestDefect1SlotWaitHonoursContext(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		r := newRing(t, uring.WithShards(1), uring.WithMaxInFlight(1))
		_, release := blockingRead(t, r)
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var err error
		within(t, "Do waiting for a slot with a 50 ms context", func() { _, err = r.Do(ctx, ops.Nop()) })
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("DoCancelled", func(t *testing.T) {
		r := newRing(t, uring.WithShards(1), uring.WithMaxInFlight(1))
		_, release := blockingRead(t, r)
		defer release()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		var err error
		within(t, "Do waiting for a slot, context cancelled", func() { _, err = r.Do(ctx, ops.Nop()) })
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("DoBatch", func(t *testing.T) {
		r := newRing(t, uring.WithShards(1), uring.WithMaxInFlight(2))
		_, release := blockingRead(t, r)
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var err error
		res := make([]uring.Result, 2)
		within(t, "DoBatch waiting for slots with a 50 ms context", func() {
			err = r.DoBatch(ctx, []ops.Op{ops.Nop(), ops.Nop()}, res)
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// The slot the batch could take was given back: a single op runs.
		_, err = r.Do(context.Background(), ops.Nop())
		require.NoError(t, err)
	})
	t.Run("BatchTurn", func(t *testing.T) {
		// A batch waiting for its turn behind another waiting batch also
		// ends with its context.
		r := newRing(t, uring.WithShards(1), uring.WithMaxInFlight(2))
		_, release := blockingRead(t, r)
		defer release()
		first := make(chan error, 1)
		go func() {
			first <- r.DoBatch(context.Background(), []ops.Op{ops.Nop(), ops.Nop()}, make([]uring.Result, 2))
		}()
		require.Eventually(t, func() bool { return r.Stats().SlotWaits > 0 }, hangLimit, time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var err error
		within(t, "DoBatch waiting for its turn", func() {
			err = r.DoBatch(ctx, []ops.Op{ops.Nop(), ops.Nop()}, make([]uring.Result, 2))
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		release()
		require.NoError(t, <-first)
	})
	t.Run("Close", func(t *testing.T) {
		requireRing(t)
		r, err := uring.New(uring.WithShards(1), uring.WithMaxInFlight(1))
		require.NoError(t, err)
		blockingRead(t, r)
		errs := make(chan error, 2)
		go func() { _, err := r.Do(context.Background(), ops.Nop()); errs <- err }()
		go func() {
			errs <- r.DoBatch(context.Background(), []ops.Op{ops.Nop()}, make([]uring.Result, 1))
		}()
		require.Eventually(t, func() bool { return r.Stats().SlotWaits >= 2 }, hangLimit, time.Millisecond)
		within(t, "Close with callers waiting for slots", func() { r.Close() })
		for range 2 {
			require.ErrorIs(t, <-errs, uring.ErrClosed)
		}
	})
}

func TestDefect2CallbackReentry(t *testing.T) {
	t.Run("Do", func(t *testing.T) {
		r := newRing(t)
		got := make(chan error, 1)
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {
			_, err := r.Do(context.Background(), ops.Nop())
			got <- err
		}))
		within(t, "Do inside an Async callback", func() { require.NoError(t, <-got) })
	})
	t.Run("DoBlocking", func(t *testing.T) {
		// The callback's Do waits for a completion that arrives later:
		// something other than the callback's goroutine must reap it.
		r := newRing(t)
		rd, wr := pipe(t)
		got := make(chan error, 1)
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {
			buf := make([]byte, 1)
			_, err := r.Do(context.Background(), ops.Read(rd, buf, -1))
			got <- err
		}))
		time.Sleep(20 * time.Millisecond)
		syscall.Write(wr, []byte{1})
		within(t, "a blocking Do inside an Async callback", func() { require.NoError(t, <-got) })
	})
	t.Run("DoBatchAndAsync", func(t *testing.T) {
		r := newRing(t)
		got := make(chan error, 2)
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {
			got <- r.DoBatch(context.Background(), []ops.Op{ops.Nop().Link(), ops.Nop()}, make([]uring.Result, 2))
			if err := r.Async(context.Background(), ops.Nop(), func(_ uring.Result, err error) { got <- err }); err != nil {
				got <- err
			}
		}))
		within(t, "DoBatch and Async inside a callback", func() {
			require.NoError(t, <-got)
			require.NoError(t, <-got)
		})
	})
	t.Run("Close", func(t *testing.T) {
		requireRing(t)
		r, err := uring.New(uring.WithShards(2))
		require.NoError(t, err)
		f, _ := blockingRead(t, r)
		closed := make(chan error, 1)
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {
			closed <- r.Close()
		}))
		within(t, "Close inside an Async callback", func() { require.NoError(t, <-closed) })
		_, err = f.Wait()
		require.ErrorIs(t, err, uring.ErrClosed)
		_, err = r.Do(context.Background(), ops.Nop())
		require.ErrorIs(t, err, uring.ErrClosed)
		within(t, "Close after Close from a callback", func() { r.Close() })
	})
	t.Run("CloseWhileCallbackCloses", func(t *testing.T) {
		// One goroutine closes the Ring while a callback of it does the same:
		// neither waits for the other.
		requireRing(t)
		r, err := uring.New(uring.WithShards(2))
		require.NoError(t, err)
		inCallback, closed := make(chan struct{}), make(chan error, 1)
		require.NoError(t, r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {
			close(inCallback)
			time.Sleep(10 * time.Millisecond)
			closed <- r.Close()
		}))
		<-inCallback
		within(t, "Close racing a Close in a callback", func() { r.Close() })
		within(t, "the callback's Close", func() { <-closed })
	})
}

// waitCancelled waits, within hangLimit in all, for every future to end with
// ECANCELED.
func waitCancelled(t *testing.T, futs []*uring.Future) {
	t.Helper()
	deadline := time.After(hangLimit)
	for i, f := range futs {
		select {
		case <-f.Done():
			_, err := f.Wait()
			require.ErrorIs(t, err, syscall.ECANCELED, "request %d", i)
		case <-deadline:
			t.Fatalf("request %d not cancelled after %v: the cancel reached another request", i, hangLimit)
		}
	}
}

// spreadGoroutines runs fn(i) for i < n, each on a fresh goroutine, so that
// their requests land on the shards their stacks pick.
func spreadGoroutines(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn(i) }()
	}
	wg.Wait()
}

func TestDefect3IdentityAcrossShards(t *testing.T) {
	const n = 32
	t.Run("AsyncCancelByID", func(t *testing.T) {
		r := newRing(t, uring.WithShards(4))
		futs := make([]*uring.Future, n)
		spreadGoroutines(n, func(i int) { futs[i], _ = blockingRead(t, r) })
		for i, f := range futs {
			_, err := r.Do(context.Background(), ops.AsyncCancel(f.ID(), 0))
			require.NoError(t, err, "cancel of future %d", i)
		}
		waitCancelled(t, futs)
	})
	t.Run("PollRemove", func(t *testing.T) {
		r := newRing(t, uring.WithShards(4))
		futs := make([]*uring.Future, n)
		spreadGoroutines(n, func(i int) {
			rd, _ := pipe(t)
			f, err := r.Submit(context.Background(), ops.PollAdd(rd, unix.POLLIN))
			require.NoError(t, err)
			futs[i] = f
		})
		for i, f := range futs {
			_, err := r.Do(context.Background(), ops.PollRemove(f.ID()))
			require.NoError(t, err, "poll remove %d", i)
		}
		waitCancelled(t, futs)
	})
	t.Run("TimeoutRemove", func(t *testing.T) {
		r := newRing(t, uring.WithShards(4))
		futs := make([]*uring.Future, n)
		spreadGoroutines(n, func(i int) {
			f, err := r.Submit(context.Background(), ops.Timeout(time.Hour, 0, 0))
			require.NoError(t, err)
			futs[i] = f
		})
		for i, f := range futs {
			_, err := r.Do(context.Background(), ops.TimeoutRemove(f.ID(), 0))
			require.NoError(t, err, "timeout remove %d", i)
		}
		waitCancelled(t, futs)
	})
	t.Run("CancelInBatch", func(t *testing.T) {
		r := newRing(t, uring.WithShards(4))
		futs := make([]*uring.Future, n)
		spreadGoroutines(n, func(i int) { futs[i], _ = blockingRead(t, r) })
		for i, f := range futs {
			res := make([]uring.Result, 1)
			require.NoError(t, r.DoBatch(context.Background(), []ops.Op{ops.AsyncCancel(f.ID(), 0)}, res))
			require.NoError(t, res[0].Err(), "batched cancel of future %d", i)
		}
		waitCancelled(t, futs)
	})
	t.Run("DirectDescriptors", func(t *testing.T) {
		r := newRing(t, uring.WithShards(4))
		require.NoError(t, r.RegisterFilesSparse(n))
		dir := t.TempDir()
		spreadGoroutines(n, func(i int) {
			path := filepath.Join(dir, "f"+string(rune('a'+i)))
			require.NoError(t, os.WriteFile(path, []byte{byte(i)}, 0o600))
			op := ops.Openat(unix.AT_FDCWD, path, unix.O_RDONLY, 0)
			op.SpliceFdIn = int32(i + 1) // a direct descriptor in slot i
			_, err := r.Do(context.Background(), op)
			require.NoError(t, err, "direct open into slot %d", i)
		})
		// Every goroutine, on whichever shard, sees every slot.
		spreadGoroutines(n, func(g int) {
			for i := range n {
				buf := make([]byte, 1)
				res, err := r.Do(context.Background(), ops.Read(i, buf, 0).WithFlags(ops.FlagFixedFile))
				if err != nil || res.N() != 1 || buf[0] != byte(i) {
					t.Errorf("goroutine %d reading fixed file %d: n=%d err=%v byte=%d", g, i, res.N(), err, buf[0])
					return
				}
			}
		})
		spreadGoroutines(n, func(i int) {
			_, err := r.Do(context.Background(), ops.CloseFixed(i))
			require.NoError(t, err, "close of fixed file %d", i)
		})
	})
	t.Run("CancelFDEveryShard", func(t *testing.T) {
		r := newRing(t, uring.WithShards(4))
		rd, _ := pipe(t)
		futs := make([]*uring.Future, n)
		spreadGoroutines(n, func(i int) {
			f, err := r.Submit(context.Background(), ops.Read(rd, make([]byte, 1), -1))
			require.NoError(t, err)
			futs[i] = f
		})
		res, err := r.Do(context.Background(), ops.CancelFD(rd, ops.CancelAll))
		require.NoError(t, err)
		require.Equal(t, n, res.N(), "requests cancelled over all shards")
		waitCancelled(t, futs)
	})
}

func TestDefect4TinyRings(t *testing.T) {
	requireRing(t)
	cases := map[string][]uring.Option{
		"entries1":     {uring.WithEntries(1)},
		"entries2":     {uring.WithEntries(2)},
		"entries3":     {uring.WithEntries(3)},
		"inflight1":    {uring.WithMaxInFlight(1)},
		"entries1cq1":  {uring.WithEntries(1), uring.WithCQEntries(1)},
		"entries1cq2":  {uring.WithEntries(1), uring.WithCQEntries(2)},
		"entries2fly1": {uring.WithEntries(2), uring.WithMaxInFlight(1)},
		"cq1":          {uring.WithCQEntries(1)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := uring.New(opts...)
			if err != nil {
				t.Logf("New refuses it: %v", err) // refusing is allowed; hanging is not
				return
			}
			defer r.Close()
			within(t, "Do with a deadline that does not fire", func() {
				ctx, cancel := context.WithTimeout(context.Background(), hangLimit/2)
				defer cancel()
				_, err := r.Do(ctx, ops.Nop())
				require.NoError(t, err)
			})
			within(t, "Do with a deadline that fires", func() {
				rd, _ := pipe(t)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				_, err := r.Do(ctx, ops.Read(rd, make([]byte, 1), -1))
				require.ErrorIs(t, err, context.DeadlineExceeded)
			})
			within(t, "DoBatch with a deadline, as large as MaxBatch", func() {
				ctx, cancel := context.WithTimeout(context.Background(), hangLimit/2)
				defer cancel()
				batch := make([]ops.Op, r.MaxBatch())
				require.NoError(t, r.DoBatch(ctx, batch, make([]uring.Result, len(batch))))
			})
			within(t, "many concurrent Do with deadlines", func() {
				spreadGoroutines(16, func(int) {
					ctx, cancel := context.WithTimeout(context.Background(), hangLimit/2)
					defer cancel()
					_, err := r.Do(ctx, ops.Nop())
					require.NoError(t, err)
				})
			})
		})
	}
}

func TestDefect5UseAfterClose(t *testing.T) {
	requireRing(t)
	r, err := uring.New(uring.WithShards(2))
	require.NoError(t, err)
	require.NoError(t, r.Close())

	_, err = uring.New(uring.WithAttachWQ(r))
	require.ErrorIs(t, err, uring.ErrClosed, "New attached to a closed ring")

	ctx := context.Background()
	_, err = r.Do(ctx, ops.Nop())
	require.ErrorIs(t, err, uring.ErrClosed)
	require.ErrorIs(t, r.DoBatch(ctx, []ops.Op{ops.Nop()}, make([]uring.Result, 1)), uring.ErrClosed)
	require.ErrorIs(t, r.Async(ctx, ops.Nop(), func(uring.Result, error) {}), uring.ErrClosed)
	_, err = r.Submit(ctx, ops.Nop())
	require.ErrorIs(t, err, uring.ErrClosed)
	for _, err := range r.Stream(ctx, ops.Nop()) {
		require.ErrorIs(t, err, uring.ErrClosed)
	}
	_, err = r.Multishot(ops.Nop(), nil)
	require.ErrorIs(t, err, uring.ErrClosed)
	_, err = r.CancelFD(ctx, 0)
	require.ErrorIs(t, err, uring.ErrClosed)
	require.ErrorIs(t, r.RegisterFiles([]int{0}), uring.ErrClosed)
	require.ErrorIs(t, r.RegisterFilesSparse(4), uring.ErrClosed)
	require.ErrorIs(t, r.UpdateFiles(0, []int{0}), uring.ErrClosed)
	require.ErrorIs(t, r.UpdateFiles(0, nil), uring.ErrClosed)
	require.ErrorIs(t, r.UnregisterFiles(), uring.ErrClosed)
	require.ErrorIs(t, r.RegisterBuffers([][]byte{make([]byte, 8)}), uring.ErrClosed)
	require.ErrorIs(t, r.UnregisterBuffers(), uring.ErrClosed)
	_, err = r.NewBufferRing(1, 4, 64)
	require.ErrorIs(t, err, uring.ErrClosed)
	require.Equal(t, -1, r.Fd())
	require.NoError(t, r.Close())
}

func TestDefect5RegistrationRacesClose(t *testing.T) {
	requireRing(t)
	for round := range 50 {
		r, err := uring.New(uring.WithShards(2))
		require.NoError(t, err)
		other, err := uring.New()
		require.NoError(t, err)
		start := make(chan struct{})
		var wg sync.WaitGroup
		calls := []func() error{
			func() error { return r.RegisterFilesSparse(8) },
			func() error { return r.UpdateFiles(0, []int{0}) },
			func() error { return r.UnregisterFiles() },
			func() error { return r.RegisterBuffers([][]byte{make([]byte, 4096)}) },
			func() error { return r.UnregisterBuffers() },
			func() error {
				br, err := r.NewBufferRing(uint16(round), 4, 64)
				if err == nil {
					br.Close()
				}
				return err
			},
			func() error {
				if r.Fd() < 0 {
					return uring.ErrClosed
				}
				return nil
			},
			func() error {
				a, err := uring.New(uring.WithAttachWQ(r))
				if err == nil {
					a.Close()
				}
				return err
			},
		}
		for _, call := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					if err := call(); errors.Is(err, uring.ErrClosed) {
						return
					}
				}
			}()
		}
		close(start)
		time.Sleep(time.Millisecond)
		require.NoError(t, r.Close())
		within(t, "registration calls after Close", wg.Wait)
		other.Close()
	}
}

// openFds counts this process's open descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestDefect6StreamBreakReleases(t *testing.T) {
	t.Run("AcceptMulti", func(t *testing.T) {
		r := newRing(t)
		lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		defer unix.Close(lfd)
		require.NoError(t, unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
		require.NoError(t, unix.Listen(lfd, 64))
		sa, err := unix.Getsockname(lfd)
		require.NoError(t, err)
		port := sa.(*unix.SockaddrInet4).Port
		// Clients wait in the backlog, so the multishot accept takes them all
		// at once while the consumer looks at the first.
		const clients = 8
		var conns []int
		for range clients {
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			conns = append(conns, c)
			require.NoError(t, unix.Connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}))
		}
		defer func() {
			for _, c := range conns {
				unix.Close(c)
			}
		}()
		before := openFds(t)
		yielded := -1
		within(t, "a Stream of accepts after a break", func() {
			for res, err := range r.Stream(context.Background(), ops.AcceptMulti(lfd, unix.SOCK_CLOEXEC)) {
				require.NoError(t, err)
				yielded = res.N()
				break
			}
		})
		require.GreaterOrEqual(t, yielded, 0)
		require.Equal(t, before+1, openFds(t), "only the accepted connection the loop saw stays open")
		require.NoError(t, unix.Close(yielded))
		// Every client the kernel accepted sees its connection closed; the
		// others are still in the backlog and see nothing until Close below.
		unix.Close(lfd)
		for i, c := range conns {
			tv := unix.NsecToTimeval(int64(hangLimit))
			require.NoError(t, unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv))
			n, err := unix.Read(c, make([]byte, 1))
			require.True(t, n == 0 || err == unix.ECONNRESET, "client %d: n=%d err=%v", i, n, err)
		}
	})
	t.Run("RecvMulti", func(t *testing.T) {
		r := newRing(t)
		const group, bufs = 3, 4
		br, err := r.NewBufferRing(group, bufs, 64)
		if err != nil {
			t.Skipf("provided buffer rings need Linux 5.19: %v", err)
		}
		defer br.Close()
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		send := func(tag byte) {
			for i := range bufs {
				_, err := unix.Write(fds[1], []byte{tag, byte(i)})
				require.NoError(t, err)
			}
		}
		// The first stream takes every buffer while its consumer breaks after
		// one message: the other three must come back to the ring.
		send('a')
		within(t, "a Stream of receives after a break", func() {
			for res, err := range r.Stream(context.Background(), ops.RecvMulti(fds[0], group, 0)) {
				require.NoError(t, err)
				br.Release(res)
				break
			}
		})
		// A second stream on the group gets every message, without ENOBUFS.
		send('b')
		got := 0
		within(t, "a second Stream on the same buffer group", func() {
			for res, err := range r.Stream(context.Background(), ops.RecvMulti(fds[0], group, 0)) {
				require.NoError(t, err, "after %d of the second batch", got)
				if b := br.Bytes(res); len(b) == 2 && b[0] == 'b' {
					got++
				}
				br.Release(res)
				if got == bufs {
					break
				}
			}
		})
		require.Equal(t, bufs, got)
	})
}
