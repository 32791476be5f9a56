package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// allocated is the space a file takes on disk, in bytes.
func allocated(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestCpSparse copies a 64 MiB file holding 3 small runs of data (one
// unaligned, one at the very end) and a trailing hole variant: the copy
// reads back identical and stays sparse, with and without --direct.
func TestCpSparse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trailer bool // data in the last bytes, or a hole to the end
	}{{"data at the end", true}, {"hole at the end", false}} {
		for _, flags := range cpVariants() {
			t.Run(tc.name+"/"+filepath.Join(append([]string{"plain"}, flags...)...), func(t *testing.T) {
				dir := t.TempDir()
				src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
				f, err := os.Create(src)
				require.NoError(t, err)
				const size = 64 << 20
				require.NoError(t, f.Truncate(size))
				for i, off := range []int64{0, 1<<20 + 17, 40<<20 + 4096} {
					_, err := f.WriteAt(randomBytes(10000, uint64(i)), off)
					require.NoError(t, err)
				}
				if tc.trailer {
					_, err := f.WriteAt([]byte("end"), size-3)
					require.NoError(t, err)
				}
				require.NoError(t, f.Close())
				if allocated(t, src) > size/2 {
					t.Skip("this file system does not keep holes")
				}

				code, stderr := cpRun(t, append(flags, src, dst)...)
				if code != 0 && len(flags) > 0 && flags[0] == "--direct" {
					t.Skipf("O_DIRECT refused here: %s", stderr)
				}
				require.Equal(t, 0, code, stderr)
				requireSameContent(t, src, dst)
				// Rounding the runs to a page for O_DIRECT may add a block each.
				require.LessOrEqual(t, allocated(t, dst), allocated(t, src)+64<<10,
					"the copy of a sparse file stays sparse")
			})
		}
	}
}
