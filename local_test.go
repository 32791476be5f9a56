package uring_test

import (
	"runtime"
	"syscall"
	"testing"

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
// the registered ring fd is the owner's (EBADF elsewhere), and
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
	require.Contains(t, []error{syscall.EBADF, syscall.EEXIST}, err)
}
