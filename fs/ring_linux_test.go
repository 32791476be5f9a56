//go:build linux

package fs_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

// requireUring skips t where io_uring is unavailable, or fails it with
// URING_REQUIRE=1 (CI), as openers does.
func requireUring(t testing.TB) {
	t.Helper()
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1): %v", err)
		}
		t.Skipf("io_uring unavailable: %v", err)
	}
}

// newRing returns a private Ring, closed when t ends.
func newRing(t testing.TB, opts ...uring.Option) *uring.Ring {
	t.Helper()
	requireUring(t)
	r, err := uring.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}
