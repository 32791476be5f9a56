package uring_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

// requireRing skips when io_uring is unavailable, or fails under
// URING_REQUIRE=1 (CI), where a missing io_uring must not pass silently.
func requireRing(t testing.TB) {
	t.Helper()
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
}

// newRing returns a ring closed at the end of the test.
func newRing(t testing.TB, opts ...uring.Option) *uring.Ring {
	t.Helper()
	requireRing(t)
	r, err := uring.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}
