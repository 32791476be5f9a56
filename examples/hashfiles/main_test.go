package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// hashTree's sums are those of crypto/sha256 over os.ReadFile, for every
// regular file of a tree, and a missing root is an error.
func TestHashTree(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	want := map[string][sha256.Size]byte{}
	for i := range 300 {
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		if i%3 == 0 {
			p = filepath.Join(dir, "sub", fmt.Sprintf("g%03d", i))
		}
		data := []byte(fmt.Sprintf("file %d %s", i, make([]byte, i*37)))
		require.NoError(t, os.WriteFile(p, data, 0o644))
		want[p] = sha256.Sum256(data)
	}
	sums, err := hashTree([]string{dir}, 16)
	require.NoError(t, err)
	require.Len(t, sums, len(want))
	for i, s := range sums {
		require.Equal(t, want[s.path], s.sum, s.path)
		if i > 0 {
			require.Less(t, sums[i-1].path, s.path)
		}
	}
	_, err = hashTree([]string{filepath.Join(dir, "missing")}, 4)
	require.ErrorIs(t, err, os.ErrNotExist)
}
