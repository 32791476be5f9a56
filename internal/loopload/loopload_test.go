package loopload_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/loopload"
	"github.com/goaio/uring/loop"
)

// groupAndFile returns a group of two loops and an open file of size
// bytes, closed at the end of the test.
func groupAndFile(t *testing.T, size int) (*loop.Group, *os.File) {
	t.Helper()
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	g, err := loop.NewGroup(loop.WithLoops(2))
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	p := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(p, make([]byte, size), 0o644))
	f, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return g, f
}

// TestLoads: both loads complete ops on every loop, stop cleanly, and can
// run again on the same group.
func TestLoads(t *testing.T) {
	g, f := groupAndFile(t, 1<<20)
	for range 2 {
		for _, start := range []func() (*loopload.Load, error){
			func() (*loopload.Load, error) { return loopload.Nops(g, 16) },
			func() (*loopload.Load, error) { return loopload.Reads(g, int(f.Fd()), 1<<20, 8) },
		} {
			ld, err := start()
			require.NoError(t, err)
			time.Sleep(20 * time.Millisecond)
			require.NoError(t, ld.Stop())
			require.Positive(t, ld.Done())
		}
	}
}

// TestLoadsAllocateNothing: invariant 7 on the loop: a NOP or a read
// submitted from a loop callback, its completion reaped and its callback
// run, allocates nothing on the heap.
func TestLoadsAllocateNothing(t *testing.T) {
	g, f := groupAndFile(t, 1<<22)
	for _, start := range []func() (*loopload.Load, error){
		func() (*loopload.Load, error) { return loopload.Nops(g, 64) },
		func() (*loopload.Load, error) { return loopload.Reads(g, int(f.Fd()), 1<<22, 16) },
	} {
		ld, err := start()
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond) // past the first chunk of request slots
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n0 := ld.Done()
		time.Sleep(200 * time.Millisecond)
		runtime.ReadMemStats(&after)
		n := ld.Done() - n0
		require.NoError(t, ld.Stop())
		require.Greater(t, n, uint64(1000))
		// The whole process counts: the test's own few allocations are far
		// below one per thousand ops.
		require.Less(t, float64(after.Mallocs-before.Mallocs)/float64(n), 0.001, "heap allocations per op")
	}
}
