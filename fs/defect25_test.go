//go:build linux

package fs_test

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

// Issue 25, defect 4: fs.NewFile of a descriptor opened with O_APPEND knows
// it appends, as os.NewFile's File does (F_GETFL): WriteAt is refused with
// os's error and leaves the file alone, and ReadFrom a pipe appends what it
// reads. Before, WriteAt wrote at the end and returned no error, and
// ReadFrom failed with "splice: invalid argument".
func TestDefect25NewFileAppend(t *testing.T) {
	requireUring(t)
	p := filepath.Join(t.TempDir(), "log")
	writeFile(t, p, []byte("abc"))
	open := func() uintptr {
		fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CLOEXEC, 0)
		require.NoError(t, err)
		return uintptr(fd)
	}
	of := os.NewFile(open(), p)
	defer of.Close()
	ff := fs.NewFile(open(), p)
	defer ff.Close()
	require.True(t, ff.UsesRing())

	nOs, errOs := of.WriteAt([]byte("zz"), 0)
	nFs, errFs := ff.WriteAt([]byte("zz"), 0)
	require.Error(t, errOs)
	require.Equal(t, nOs, nFs)
	require.EqualError(t, errFs, errOs.Error())
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "abc", string(got), "WriteAt on an O_APPEND file changed it")

	for i, dst := range []io.ReaderFrom{of, ff} {
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		_, err = pw.Write([]byte("def"))
		require.NoError(t, err)
		pw.Close()
		n, err := dst.ReadFrom(pr)
		pr.Close()
		require.NoError(t, err, "side %d", i)
		require.Equal(t, int64(3), n, "side %d", i)
	}
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "abcdefdef", string(got))
}
