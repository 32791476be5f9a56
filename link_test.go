//go:build linux && cgo

package uring_test

import (
	"debug/elf"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStaticLink checks that the default build links liburing statically:
// a binary built with this package needs no liburing.so at run time.
func TestStaticLink(t *testing.T) {
	if dynamicLink {
		t.Skip("built with -tags uring_dynamic: liburing.so is linked on purpose")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	f, err := elf.Open(exe)
	require.NoError(t, err)
	defer f.Close()
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	for _, l := range libs {
		require.False(t, strings.Contains(l, "liburing"), "test binary needs %s at run time", l)
	}
}
