//go:build linux

package uring_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// onLocalRing runs f on a goroutine locked to its thread that owns a new
// LocalRing, as an event loop does.
func onLocalRing(t *testing.T, f func(r *uring.LocalRing)) {
	t.Helper()
	requireRing(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := uring.NewLocalRing(64, 0)
		if !assertNoError(t, err) {
			return
		}
		f(r)
	}()
	<-done
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// TestLocalRingSubmitAndPrep: Submit's callbacks and Prep's tags come back
// from Reap, more ops than the SQ holds included.
func TestLocalRingSubmitAndPrep(t *testing.T) {
	onLocalRing(t, func(r *uring.LocalRing) {
		const n = 300 // the SQ has 64 entries: staging enters on its own
		got := 0
		for i := 0; i < n; i++ {
			_, err := r.Submit(ops.Nop(), func(res uring.Result) {
				if res.Res == 0 {
					got++
				}
			})
			if !assertNoError(t, err) {
				return
			}
		}
		nop := ops.Nop()
		assertNoError(t, r.Prep(&nop, 42))
		tags := 0
		for got < n || tags == 0 {
			assertNoError(t, r.Enter(true))
			r.Reap(func(ud uint64, res int32, flags uint32) {
				if ud == 42 && res == 0 {
					tags++
				}
			})
		}
		if got != n || tags != 1 || r.Pending() != 0 {
			t.Errorf("callbacks %d of %d, tags %d, pending %d", got, n, tags, r.Pending())
		}
		assertNoError(t, r.Close(func(uint64, int32, uint32) {}, func() bool { return true }))
	})
}

// TestLocalRingCloseCancels: a read that would never complete is cancelled
// by Close, its callback runs with ECANCELED before Close returns, and the
// buffer it named is never written afterwards (invariant 1).
func TestLocalRingCloseCancels(t *testing.T) {
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	buf := make([]byte, 8)
	var res uring.Result
	called := 0
	onLocalRing(t, func(r *uring.LocalRing) {
		_, err := r.Submit(ops.Read(p[0], buf, -1), func(got uring.Result) { res = got; called++ })
		if !assertNoError(t, err) {
			return
		}
		assertNoError(t, r.Enter(false))
		assertNoError(t, r.Close(func(uint64, int32, uint32) {}, func() bool { return true }))
	})
	require.Equal(t, 1, called)
	require.Equal(t, syscall.ECANCELED, res.Err())
	_, err := unix.Write(p[1], []byte("written!"))
	require.NoError(t, err)
	n, err := unix.Read(p[0], make([]byte, 8))
	require.NoError(t, err)
	require.Equal(t, 8, n, "the pipe kept its bytes: no read was left on it")
	require.Equal(t, make([]byte, 8), buf)
}

// TestLocalRingOtherThread: a thread that is not the owner's cannot enter:
// the registered ring fd is the owner's (EBADF or EINVAL elsewhere), and
// SINGLE_ISSUER refuses other tasks (EEXIST).
func TestLocalRingOtherThread(t *testing.T) {
	requireRing(t)
	var r *uring.LocalRing
	made := make(chan error)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		r, err = uring.NewLocalRing(8, 0)
		made <- err
		<-release
		if err == nil {
			r.Close(func(uint64, int32, uint32) {}, func() bool { return true })
		}
		made <- nil
	}()
	require.NoError(t, <-made)
	runtime.LockOSThread()
	err := r.Enter(false)
	runtime.UnlockOSThread()
	close(release)
	<-made
	require.Error(t, err)
	require.Contains(t, []error{syscall.EBADF, syscall.EEXIST, syscall.EINVAL}, err)
}

// TestLocalRingAfterClose: after Close every method refuses or does
// nothing: the mapped rings are gone and none of them may be touched.
func TestLocalRingAfterClose(t *testing.T) {
	onLocalRing(t, func(r *uring.LocalRing) {
		assertNoError(t, r.Close(func(uint64, int32, uint32) {}, func() bool { return true }))
		nop := ops.Nop()
		for name, err := range map[string]error{
			"Prep":   r.Prep(&nop, 1),
			"Cancel": r.Cancel(1),
			"Enter":  r.Enter(false),
		} {
			if !errors.Is(err, uring.ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
		if _, err := r.Submit(ops.Nop(), nil); !errors.Is(err, uring.ErrClosed) {
			t.Errorf("Submit after Close: %v", err)
		}
		if _, err := r.NewBuffers(8, 4096, 1, false); !errors.Is(err, uring.ErrClosed) {
			t.Errorf("NewBuffers after Close: %v", err)
		}
		if n := r.Reap(func(uint64, int32, uint32) {}); n != 0 || r.Staged() != 0 {
			t.Errorf("Reap %d, Staged %d after Close", n, r.Staged())
		}
	})
}

// TestLocalRingCloseRefusesResubmit: a callback that submits again on every
// completion (a ticker) cannot keep Close's drain going: Submit refuses
// once Close has begun, and Closing says so.
func TestLocalRingCloseRefusesResubmit(t *testing.T) {
	onLocalRing(t, func(r *uring.LocalRing) {
		refused := false
		var tick func(uring.Result)
		tick = func(uring.Result) {
			if _, err := r.Submit(ops.Timeout(time.Millisecond, 0, 0), tick); err != nil {
				refused = errors.Is(err, uring.ErrClosed) && r.Closing()
			}
		}
		tick(uring.Result{})
		for range 3 {
			assertNoError(t, r.Enter(true))
			r.Reap(func(uint64, int32, uint32) {})
		}
		assertNoError(t, r.Close(func(uint64, int32, uint32) {}, func() bool { return true }))
		if !refused {
			t.Error("the ticker's Submit during Close was not refused with ErrClosed")
		}
	})
}

// TestLocalBuffersIncremental: with incremental consumption (Linux 6.12),
// two messages land in one buffer, one after the other, and Take finds
// each; the buffer is done only when the kernel says it has no more room
// for the group's next completion. Without it each message takes a buffer.
func TestLocalBuffersIncremental(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	onLocalRing(t, func(r *uring.LocalRing) {
		b, err := r.NewBuffers(4, 4096, 3, true)
		if errors.Is(err, syscall.EINVAL) {
			t.Skip("no IOU_PBUF_RING_INC before Linux 6.12")
		}
		if !assertNoError(t, err) {
			return
		}
		op := ops.RecvMulti(fds[0], 3, 0)
		assertNoError(t, r.Prep(&op, 7))
		var got []string
		var bids []uint16
		var dones []bool
		for i, msg := range []string{"first message", "second"} {
			_, err := unix.Write(fds[1], []byte(msg))
			assertNoError(t, err)
			for len(got) == i {
				assertNoError(t, r.Enter(true))
				r.Reap(func(ud uint64, res int32, flags uint32) {
					if res > 0 {
						data, bid, done := b.Take(flags, int(res))
						got, bids, dones = append(got, string(data)), append(bids, bid), append(dones, done)
					}
				})
			}
		}
		if !b.Incremental() || len(got) != 2 || got[0] != "first message" || got[1] != "second" {
			t.Errorf("incremental %v, got %q", b.Incremental(), got)
		}
		if bids[0] != bids[1] || dones[0] {
			t.Errorf("both messages should share one buffer that is not done: bids %v, done %v", bids, dones)
		}
		armed := true // the multishot recv, until its last completion
		own := func(ud uint64, res int32, flags uint32) {
			if flags&ops.CQEFlagMore == 0 {
				armed = false
			}
		}
		assertNoError(t, r.Close(own, func() bool { return !armed }))
		b.Free()
	})
}
