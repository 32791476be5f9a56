//go:build linux

package ops_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

func TestFsync(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpFsync)
	path, fd := tempFile(t, nil)
	do(t, r, ops.Write(fd, []byte("durable"), 0))

	require.Equal(t, int32(0), do(t, r, ops.Fsync(fd)).Res)
	require.Equal(t, int32(0), do(t, r, ops.Fdatasync(fd)).Res)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "durable", string(got))

	// Fdatasync is fsync with IORING_FSYNC_DATASYNC.
	require.Equal(t, uint32(0), ops.Fsync(fd).OpFlags)
	require.Equal(t, ops.FsyncDatasync, ops.Fdatasync(fd).OpFlags)

	_, err = r.Do(t.Context(), ops.Fsync(1<<20))
	require.ErrorIs(t, err, unix.EBADF)
}

func TestSyncFileRange(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSyncFileRange)
	_, fd := tempFile(t, make([]byte, 8192))
	flags := unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	require.Equal(t, int32(0), do(t, r, ops.SyncFileRange(fd, 0, 8192, flags)).Res)
	require.Equal(t, int32(0), do(t, r, ops.SyncFileRange(fd, 4096, 0, unix.SYNC_FILE_RANGE_WRITE)).Res)

	// Unknown flags are the kernel's to refuse.
	_, err := r.Do(t.Context(), ops.SyncFileRange(fd, 0, 1, 1<<20))
	require.ErrorIs(t, err, unix.EINVAL)
}

func TestFallocate(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpFallocate)
	path, fd := tempFile(t, []byte("abc"))

	// Beyond 32 bits of length: the length travels in sqe.addr, not sqe.len.
	require.Equal(t, int32(0), do(t, r, ops.Fallocate(fd, 0, 0, 1<<16)).Res)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(1<<16), st.Size())

	// KEEP_SIZE allocates blocks without changing the size.
	require.Equal(t, int32(0), do(t, r, ops.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 1<<16, 1<<16)).Res)
	st, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(1<<16), st.Size())

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "abc", string(got[:3]), "fallocate keeps existing data")
	require.Equal(t, make([]byte, 1<<16-3), got[3:])
}

func TestFadvise(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpFadvise)
	_, fd := tempFile(t, make([]byte, 4096))
	for _, advice := range []int{unix.FADV_SEQUENTIAL, unix.FADV_WILLNEED, unix.FADV_DONTNEED, unix.FADV_NORMAL} {
		require.Equal(t, int32(0), do(t, r, ops.Fadvise(fd, 0, 4096, advice)).Res)
	}
	_, err := r.Do(t.Context(), ops.Fadvise(fd, 0, 0, 12345))
	require.ErrorIs(t, err, unix.EINVAL)
}

func TestMadvise(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpMadvise)
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	defer unix.Munmap(mem)

	require.Equal(t, int32(0), do(t, r, ops.Madvise(mem, unix.MADV_WILLNEED)).Res)

	// MADV_DONTNEED on private anonymous memory drops the pages: they read
	// back as zeros. That shows the advice reached the kernel for this range.
	mem[0], mem[page] = 7, 9
	require.Equal(t, int32(0), do(t, r, ops.Madvise(mem[:page], unix.MADV_DONTNEED)).Res)
	require.Equal(t, byte(0), mem[0])
	require.Equal(t, byte(9), mem[page], "the page outside the range is untouched")
}

func TestSyncRejectsBadInput(t *testing.T) {
	r := newRing(t)
	requireRejected(t, r, ops.Fsync(-1), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Fdatasync(-1), ops.ErrNegativeFd)
	requireRejected(t, r, ops.SyncFileRange(-1, 0, 1, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.SyncFileRange(0, -1, 1, 0), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.SyncFileRange(0, 0, -1, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.SyncFileRange(0, 0, 1<<32, 0), ops.ErrTooLarge)
	requireRejected(t, r, ops.Fallocate(-1, 0, 0, 1), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Fallocate(0, 0, -1, 1), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.Fallocate(0, 0, 0, -1), ops.ErrNegativeLength)
	requireRejected(t, r, ops.Fadvise(-1, 0, 0, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Fadvise(0, -1, 0, 0), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.Fadvise(0, 0, -1, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.Fadvise(0, 0, 1<<32, 0), ops.ErrTooLarge)
	requireRejected(t, r, ops.Madvise(nil, 0), ops.ErrNilBuffer)
}
