//go:build linux

package ops_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

func TestNop(t *testing.T) {
	r := newRing(t)
	res := do(t, r, ops.Nop())
	require.Equal(t, int32(0), res.Res)
	require.NoError(t, res.Err())
}

func TestRead(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpRead)
	content := []byte("0123456789abcdef")
	_, fd := tempFile(t, content)

	t.Run("offset", func(t *testing.T) {
		buf := make([]byte, 6)
		res := do(t, r, ops.Read(fd, buf, 4))
		require.Equal(t, 6, res.N())
		require.Equal(t, content[4:10], buf)
	})
	t.Run("file position", func(t *testing.T) {
		// -1 reads at the file position and advances it, like read(2).
		buf := make([]byte, 5)
		require.Equal(t, 5, do(t, r, ops.Read(fd, buf, -1)).N())
		require.Equal(t, content[:5], buf)
		require.Equal(t, 5, do(t, r, ops.Read(fd, buf, -1)).N())
		require.Equal(t, content[5:10], buf)
	})
	t.Run("short at end", func(t *testing.T) {
		buf := make([]byte, 32)
		res := do(t, r, ops.Read(fd, buf, 12))
		require.Equal(t, 4, res.N())
		require.Equal(t, content[12:], buf[:4])
		require.Equal(t, 0, do(t, r, ops.Read(fd, buf, int64(len(content)))).N(), "EOF reads 0 bytes")
	})
	t.Run("empty buffer", func(t *testing.T) {
		require.Equal(t, 0, do(t, r, ops.Read(fd, nil, 0)).N())
	})
}

func TestWrite(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpWrite)
	path, fd := tempFile(t, []byte("................"))

	res := do(t, r, ops.Write(fd, []byte("hello"), 3))
	require.Equal(t, 5, res.N())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "...hello........", string(got))

	// -1 writes at the file position (0 for a fresh fd) and advances it.
	do(t, r, ops.Write(fd, []byte("ab"), -1))
	do(t, r, ops.Write(fd, []byte("cd"), -1))
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "abcdello........", string(got))

	// Writing past the end extends the file.
	do(t, r, ops.Write(fd, []byte("XY"), 20))
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, got, 22)
	require.Equal(t, "XY", string(got[20:]))
}

func TestReadvWritev(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpReadv, ops.OpWritev)

	// Two buffers fit the ring's inline iovec array; eight need a C
	// allocation: cover both layouts.
	for _, nbufs := range []int{1, 2, 8} {
		path, fd := tempFile(t, nil)
		var bufs [][]byte
		var want []byte
		for i := range nbufs {
			b := bytes.Repeat([]byte{byte('a' + i)}, i+3)
			bufs = append(bufs, b)
			want = append(want, b...)
		}
		res := do(t, r, ops.Writev(fd, bufs, 0))
		require.Equal(t, len(want), res.N())
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, want, got)

		into := make([][]byte, nbufs)
		for i, b := range bufs {
			into[i] = make([]byte, len(b))
		}
		res = do(t, r, ops.Readv(fd, into, 0))
		require.Equal(t, len(want), res.N())
		require.Equal(t, want, bytes.Join(into, nil))
	}

	t.Run("offset", func(t *testing.T) {
		_, fd := tempFile(t, []byte("0123456789"))
		a, b := make([]byte, 2), make([]byte, 3)
		require.Equal(t, 5, do(t, r, ops.Readv(fd, [][]byte{a, b}, 4)).N())
		require.Equal(t, "45", string(a))
		require.Equal(t, "678", string(b))
	})
}

func TestReadFixedWriteFixed(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpReadFixed, ops.OpWriteFixed)
	reg := [][]byte{make([]byte, 4096), make([]byte, 4096)}
	require.NoError(t, r.RegisterBuffers(reg))
	t.Cleanup(func() { require.NoError(t, r.UnregisterBuffers()) })

	path, fd := tempFile(t, nil)
	copy(reg[1][100:], "fixed buffer data")
	res := do(t, r, ops.WriteFixed(fd, reg[1][100:117], 8, 1))
	require.Equal(t, 17, res.N())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, append(make([]byte, 8), "fixed buffer data"...), got)

	// Read into the middle of registered buffer 0.
	res = do(t, r, ops.ReadFixed(fd, reg[0][10:22], 14, 0))
	require.Equal(t, 11, res.N())
	require.Equal(t, "buffer data", string(reg[0][10:21]))

	// A buffer outside the registered one is refused by the kernel.
	outside := make([]byte, 16)
	_, err = r.Do(t.Context(), ops.ReadFixed(fd, outside, 0, 0))
	require.ErrorIs(t, err, unix.EFAULT)
}

func TestRWRejectsBadInput(t *testing.T) {
	r := newRing(t)
	buf := make([]byte, 8)
	requireRejected(t, r, ops.Read(-1, buf, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Write(-3, buf, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Read(0, buf, -2), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.Writev(0, [][]byte{buf}, -5), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.Readv(-1, nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.ReadFixed(-1, buf, 0, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.WriteFixed(1, buf, -9, 0), ops.ErrNegativeOffset)

	// The kernel's own errors come back as syscall.Errno.
	_, err := r.Do(t.Context(), ops.Read(1<<20, buf, 0))
	require.ErrorIs(t, err, unix.EBADF)
}

func TestLinkedOps(t *testing.T) {
	r := newRing(t)
	path, fd := tempFile(t, nil)
	results := make([]uring.Result, 3)

	// A chain runs in order: the read sees the write before it.
	buf := make([]byte, 5)
	err := r.DoBatch(t.Context(), []ops.Op{
		ops.Write(fd, []byte("chain"), 0).Link(),
		ops.Fsync(fd).Link(),
		ops.Read(fd, buf, 0),
	}, results)
	require.NoError(t, err)
	for i, res := range results {
		require.NoError(t, res.Err(), "op %d", i)
	}
	require.Equal(t, "chain", string(buf))

	// A failure cancels the rest of a soft-linked chain...
	err = r.DoBatch(t.Context(), []ops.Op{
		ops.Read(1<<20, buf, 0).Link(),
		ops.Write(fd, []byte("never"), 0).Link(),
		ops.Nop(),
	}, results)
	require.NoError(t, err)
	require.ErrorIs(t, results[0].Err(), unix.EBADF)
	require.ErrorIs(t, results[1].Err(), unix.ECANCELED)
	require.ErrorIs(t, results[2].Err(), unix.ECANCELED)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "chain", string(got))

	// ...but not a hard-linked one.
	err = r.DoBatch(t.Context(), []ops.Op{
		ops.Read(1<<20, buf, 0).HardLink(),
		ops.Write(fd, []byte("HARD!"), 0),
	}, results[:2])
	require.NoError(t, err)
	require.ErrorIs(t, results[0].Err(), unix.EBADF)
	require.Equal(t, 5, results[1].N())
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "HARD!", string(got))

	// Link flags on a lone op are ignored rather than chaining it to
	// whatever op is submitted next.
	require.Equal(t, int32(0), do(t, r, ops.Nop().Link()).Res)
	require.Equal(t, int32(0), do(t, r, ops.Nop()).Res)
}
