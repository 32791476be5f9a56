package ringfd_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/internal/ringfd"
)

var idleFD ringfd.FD

// An FD that is opened, used and closed with no call in flight at Close
// allocates nothing: the channel that wakes a waiting Close is made only when
// Close has calls to wait for, so an idle connection holds none.
func TestIdleFDAllocatesNothing(t *testing.T) {
	kind := &ringfd.Kind{ErrClosing: os.ErrClosed}
	allocs := testing.AllocsPerRun(100, func() {
		idleFD = ringfd.FD{}
		idleFD.Init(nil, -1, kind)
		if idleFD.Incref() != nil {
			panic("Incref on an open FD")
		}
		idleFD.Decref()
		if err := idleFD.Close(func() error { return nil }); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs)
}

// Close waits for every call in flight and releases exactly once after the
// last, while other goroutines keep taking and dropping references (the
// ones taken after Close fail): the wake-up channel made late is never
// missed.
func TestCloseWaitsForRacingCalls(t *testing.T) {
	kind := &ringfd.Kind{ErrClosing: os.ErrClosed}
	for range 200 {
		var fd ringfd.FD
		fd.Init(nil, -1, kind)
		var inside, released atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for fd.Incref() == nil {
					inside.Add(1)
					if released.Load() != 0 {
						panic("released with a call in flight")
					}
					inside.Add(-1)
					fd.Decref()
				}
			}()
		}
		close(start)
		require.NoError(t, fd.Close(func() error {
			if inside.Load() != 0 {
				panic("released with a call in flight")
			}
			released.Add(1)
			return nil
		}))
		wg.Wait()
		require.Equal(t, int32(1), released.Load())
	}
}

// Setting a deadline in the past and clearing it again, with no call in
// flight, allocates nothing (net/http does both on every request to end its
// background read); a call that asks for a context afterwards still gets one
// that the deadline cancels.
func TestDeadlineSetAllocatesNothing(t *testing.T) {
	var fd ringfd.FD
	fd.Init(nil, -1, &ringfd.Kind{ErrClosing: os.ErrClosed, CancelOnClose: true})
	allocs := testing.AllocsPerRun(100, func() {
		fd.RD.Set(time.Now().Add(-time.Second))
		if !errors.Is(fd.RD.Err(), os.ErrDeadlineExceeded) {
			panic("a passed deadline reports no error")
		}
		fd.RD.Set(time.Time{})
		if fd.RD.Err() != nil {
			panic("a cleared deadline reports an error")
		}
	})
	require.Zero(t, allocs)
	ctx := fd.RD.Context()
	require.NoError(t, ctx.Err())
	fd.RD.Set(time.Now().Add(10 * time.Millisecond))
	<-ctx.Done()
	require.ErrorIs(t, context.Cause(ctx), os.ErrDeadlineExceeded)
	require.NoError(t, fd.Close(func() error { return nil }))
	require.ErrorIs(t, fd.RD.Err(), os.ErrClosed)
}
