package fs

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

// The fast path ends at a read that returns the fstat size: a file whose
// size changed after fstat (it grew, or shrank) reads to its real end, as
// os.ReadFile's loop does, and so does one that does not say it is regular.
func TestReadOpenedStaleSize(t *testing.T) {
	if err := uring.Available(); err != nil {
		t.Skip(err)
	}
	r, err := uring.New()
	require.NoError(t, err)
	defer r.Close()
	p := t.TempDir() + "/f"
	content := bytes.Repeat([]byte("stale size "), 1000) // 11,000 bytes
	require.NoError(t, writeBytes(p, content))
	fd, err := openRead(p)
	require.NoError(t, err)
	defer syscall.Close(fd)
	n := int64(len(content))
	// noWait: a file system without RWF_NOWAIT reads (overlayfs), where
	// every read is a plain system call; the first read's spare byte must
	// tell a grown file there too.
	for _, noWait := range []bool{false, true} {
		for _, regular := range []bool{true, false} {
			for _, size := range []int64{0, 1, 511, 4096, n - 1, n, n + 1, 2 * n} {
				_, err := syscall.Seek(fd, 0, 0)
				require.NoError(t, err)
				m := new(mount)
				if noWait {
					m.nowait.Store(nowaitNo)
				}
				got, err := readOpenedOn(r, fd, p, regular, size, m)
				require.NoError(t, err)
				require.Equal(t, content, got, "regular %v, fstat size %d, no RWF_NOWAIT %v", regular, size, noWait)
			}
		}
	}
}

func writeBytes(p string, b []byte) error {
	fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	_, err = syscall.Write(fd, b)
	return err
}
