//go:build linux

package uring_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// Issue 25, defect 1: BufferRing.Close (and Ring.Close, which closes the
// buffer rings still registered) frees the buffers' C memory. Bytes of an
// earlier completion then returns nil instead of a view built from the freed
// struct (a garbage pointer: reading it killed the process with "unexpected
// fault address"), and Release stays a no-op.
func TestDefect25BufferRingBytesAfterClose(t *testing.T) {
	for _, closeRing := range []bool{false, true} {
		requireRing(t)
		r, err := uring.New()
		require.NoError(t, err)
		br, err := r.NewBufferRing(7, 4, 64)
		require.NoError(t, err)
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		_, err = unix.Write(fds[1], []byte("hello"))
		require.NoError(t, err)
		var res uring.Result
		for got, err := range r.Stream(context.Background(), ops.RecvMulti(fds[0], 7, 0)) {
			require.NoError(t, err)
			res = got
			break // cancels the receive
		}
		require.Equal(t, "hello", string(br.Bytes(res)))
		if closeRing {
			require.NoError(t, r.Close())
		} else {
			require.NoError(t, br.Close())
		}
		require.Nil(t, br.Bytes(res), "Bytes after Close (ring closed: %v)", closeRing)
		br.Release(res)
		require.NoError(t, br.Close())
		r.Close()
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
}

// Issue 25, defect 1's sibling: a cancel (Multi.Cancel, Future.Cancel, a
// context's end) that waited for room in a full staging buffer while Close
// stopped the shard was staged and submitted after Close freed the kernel
// ring and the staging memory: uring_submit on a NULL ring, SIGSEGV. One SQ
// entry keeps the staging buffer full; the Multi's request is long over, so
// each Cancel only stages a cancel.
func TestDefect25QueuedCancelAfterClose(t *testing.T) {
	requireRing(t)
	for range 100 {
		r, err := uring.New(uring.WithShards(1), uring.WithEntries(1))
		require.NoError(t, err)
		sink := &sinkLog{final: make(chan struct{})}
		m, err := r.Multishot(ops.Nop(), sink)
		require.NoError(t, err)
		<-sink.final
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					m.Cancel()
				}
			}()
		}
		within(t, "Close under cancels", func() { require.NoError(t, r.Close()) })
		stop.Store(true)
		wg.Wait()
	}
}
