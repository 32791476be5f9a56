package loop_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/loop"
)

// TestKernelMaskFallback: make floor runs the loop's tests with the kernel
// masked (URING_FAULT_KERNEL, the uring_faults build): below Linux 6.1 a
// Group takes the std fallback and says why (ErrUnsupported), at 6.1 it
// owns rings.
func TestKernelMaskFallback(t *testing.T) {
	v := os.Getenv("URING_FAULT_KERNEL")
	if v == "" {
		t.Skip("URING_FAULT_KERNEL is unset: make floor runs this under masked kernels")
	}
	var major, minor int
	_, err := fmt.Sscanf(v, "%d.%d", &major, &minor)
	require.NoError(t, err)
	g, err := loop.NewGroup(loop.WithLoops(1))
	require.NoError(t, err)
	defer g.Close()
	if major < 6 || major == 6 && minor < 1 {
		require.ErrorIs(t, g.Fallback(), uring.ErrUnsupported)
		_, err := g.Loops()[0].Alloc(4096)
		require.ErrorIs(t, err, loop.ErrNotLoop)
	} else {
		require.NoError(t, g.Fallback())
	}
}
