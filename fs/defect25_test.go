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

// Issue 25, defect 3: ReadFrom and WriteTo copy through a blocking pipe (a
// shell's stdin or stdout: an os.File the netpoller cannot wait on) as os
// does. Before, ReadFrom copied 0 of 256 KiB and WriteTo stopped after 64
// KiB of 1 MiB, both failing with "waiting for unsupported file type".
func TestDefect25BlockingPipeCopies(t *testing.T) {
	requireUring(t)
	blockingPipe := func() (r, w *os.File) {
		var fds [2]int
		require.NoError(t, syscall.Pipe2(fds[:], syscall.O_CLOEXEC)) // no O_NONBLOCK
		return os.NewFile(uintptr(fds[0]), "|r"), os.NewFile(uintptr(fds[1]), "|w")
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	dir := t.TempDir()

	t.Run("ReadFrom", func(t *testing.T) {
		for _, side := range []string{"os", "fs"} {
			p := filepath.Join(dir, "from-"+side)
			var dst io.ReaderFrom
			if side == "os" {
				f, err := os.Create(p)
				require.NoError(t, err)
				defer f.Close()
				dst = f
			} else {
				f, err := fs.Create(p)
				require.NoError(t, err)
				defer f.Close()
				dst = f
			}
			pr, pw := blockingPipe()
			go func() { pw.Write(data[:256<<10]); pw.Close() }()
			n, err := dst.ReadFrom(pr)
			pr.Close()
			require.NoError(t, err, side)
			require.Equal(t, int64(256<<10), n, side)
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, data[:256<<10], got, side)
		}
	})
	t.Run("WriteTo", func(t *testing.T) {
		p := filepath.Join(dir, "src")
		writeFile(t, p, data)
		for _, side := range []string{"os", "fs"} {
			var src io.WriterTo
			if side == "os" {
				f, err := os.Open(p)
				require.NoError(t, err)
				defer f.Close()
				src = f
			} else {
				f, err := fs.Open(p)
				require.NoError(t, err)
				defer f.Close()
				src = f
			}
			pr, pw := blockingPipe()
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(pr); pr.Close(); got <- b }()
			n, err := src.WriteTo(pw)
			pw.Close()
			require.NoError(t, err, side)
			require.Equal(t, int64(len(data)), n, side)
			require.Equal(t, data, <-got, side)
		}
	})
}
