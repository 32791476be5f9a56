//go:build linux

package fs_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/fs"
)

// maxRW is internal/poll's cap on one read or write of a file.
const maxRW = 1 << 30

// marks are bytes placed at offsets around the 1 GiB chunk boundaries, so a
// chunk that lands at the wrong place shows.
func marks(size int64) map[int64]byte {
	m := map[int64]byte{0: 1, size - 1: 2}
	for c := int64(maxRW); c < size; c += maxRW {
		m[c-1], m[c], m[c+1] = 3, 4, 5
	}
	return m
}

// sparseFile creates a file of size bytes, holes but for marks(size).
func sparseFile(t *testing.T, size int64) string {
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(size))
	for at, b := range marks(size) {
		_, err := f.WriteAt([]byte{b}, at)
		require.NoError(t, err)
	}
	return p
}

// checkMarks checks that b holds marks(len(b)), and zeros next to them.
func checkMarks(t *testing.T, b []byte, what string) {
	t.Helper()
	m := marks(int64(len(b)))
	for at, v := range m {
		require.Equal(t, v, b[at], "%s: byte %d", what, at)
		if _, ok := m[at+2]; !ok && at+2 < int64(len(b)) {
			require.Zero(t, b[at+2], "%s: byte %d", what, at+2)
		}
	}
}

// hugeOK skips a test whose buffer is too big for -short, or for -race,
// which shadows every byte a ring op touches.
func hugeOK(t *testing.T, size string) {
	if testing.Short() {
		t.Skipf("reads and writes a %s buffer: not under -short", size)
	}
	if raceEnabled {
		t.Skipf("a %s buffer multiplies under the race detector's shadow memory: not under -race", size)
	}
}

// Read returns at most 1 GiB per call, as os.File.Read does (internal/poll's
// maxRW), and the next Read goes on from there.
func TestDefect13ReadCapsAt1GiB(t *testing.T) {
	requireUring(t)
	hugeOK(t, "1 GiB")
	defer debug.FreeOSMemory()
	const size = maxRW + 3<<20
	p := sparseFile(t, size)
	b := make([]byte, maxRW+1<<20)
	for _, o := range openers(t) {
		if o.name == "fs-fallback" {
			continue // os itself
		}
		f, err := o.open(t, p, os.O_RDONLY, 0)
		require.NoError(t, err)
		n, err := f.Read(b)
		require.NoError(t, err, o.name)
		require.Equal(t, maxRW, n, "%s: one Read moves at most 1 GiB", o.name)
		require.Equal(t, []byte{1, 0}, b[:2], o.name)
		require.Equal(t, byte(3), b[maxRW-1], o.name)
		n, err = f.Read(b)
		require.NoError(t, err, o.name)
		require.Equal(t, 3<<20, n, o.name)
		require.Equal(t, []byte{4, 5}, b[:2], "%s: the second Read starts at 1 GiB", o.name)
		require.NoError(t, f.Close())
	}
}

// Buffers of 4 GiB or more work as with os: Read returns 1 GiB; ReadAt,
// ReadAtv, Write and WriteAt move the whole buffer in 1 GiB chunks.
//
// The buffer is a shared mapping of the very file it is read from and
// written to (a memfd: a regular file without a disk), so the test takes 4
// GiB of memory, not 12 (buffer, file, page cache), and this VM does not
// spend half a minute faulting fresh pages in. A chunk landing at the wrong
// offset would move the marks.
func TestDefect13HugeBuffers(t *testing.T) {
	requireUring(t)
	hugeOK(t, "4 GiB")
	const size = 4<<30 + 4096 + 3 // more than 32 bits, not page-aligned
	fd, err := unix.MemfdCreate("huge", unix.MFD_CLOEXEC)
	require.NoError(t, err)
	f := fs.NewFile(uintptr(fd), "huge")
	defer f.Close()
	require.True(t, f.UsesRing())
	// Allocate and map every page up front: a write from a mapping of the
	// pages it writes would otherwise fault them in one by one.
	require.NoError(t, unix.Fallocate(fd, 0, 0, size))
	b, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	require.NoError(t, err)
	defer unix.Munmap(b)
	for at, v := range marks(size) {
		b[at] = v
	}

	n, err := f.Write(b)
	require.NoError(t, err)
	require.Equal(t, size, n, "Write writes everything")
	checkMarks(t, b, "Write")
	n, err = f.WriteAt(b, 0)
	require.NoError(t, err)
	require.Equal(t, size, n, "WriteAt writes everything")
	checkMarks(t, b, "WriteAt")

	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	n, err = f.Read(b)
	require.NoError(t, err)
	require.Equal(t, maxRW, n, "Read moves at most 1 GiB, as os")
	n, err = f.Read(b[maxRW:])
	require.NoError(t, err)
	require.Equal(t, maxRW, n, "the next Read goes on from 1 GiB")
	checkMarks(t, b, "Read")

	n, err = f.ReadAt(b, 0)
	require.NoError(t, err)
	require.Equal(t, size, n, "ReadAt reads everything")
	checkMarks(t, b, "ReadAt")

	ns, errs := f.ReadAtv(context.Background(), [][]byte{b, make([]byte, 10)}, []int64{0, size - 5})
	require.NoError(t, errs[0])
	require.Equal(t, io.EOF, errs[1])
	require.Equal(t, []int{size, 5}, ns)
	checkMarks(t, b, "ReadAtv")

	st, err := f.Stat()
	require.NoError(t, err)
	require.Equal(t, int64(size), st.Size())
	require.NoError(t, f.Close())
}
