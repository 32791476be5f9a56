package loopload_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/loopload"
	"github.com/goaio/uring/loop"
)

// TestLoads: both loads complete ops on every loop, stop cleanly, and can
// run again on the same group.
func TestLoads(t *testing.T) {
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	g, err := loop.NewGroup(loop.WithLoops(2))
	require.NoError(t, err)
	defer g.Close()
	p := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(p, make([]byte, 1<<20), 0o644))
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
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
