//go:build linux

package ops_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

func TestSplice(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSplice)
	content := []byte("spliced through a pipe")
	_, src := tempFile(t, content)
	dstPath, dst := tempFile(t, nil)
	pr, pw := pipe(t)

	// File (at offset 8) into the pipe: the pipe side has no offset (-1).
	res := do(t, r, ops.Splice(src, 8, pw, -1, 7, 0))
	require.Equal(t, 7, res.N())

	// Pipe into the file at offset 2.
	res = do(t, r, ops.Splice(pr, -1, dst, 2, 64, 0))
	require.Equal(t, 7, res.N())
	got, err := os.ReadFile(dstPath)
	require.NoError(t, err)
	require.Equal(t, "\x00\x00through", string(got))

	// -1 on the file side uses and advances the file position.
	do(t, r, ops.Splice(src, -1, pw, -1, 8, 0))
	do(t, r, ops.Splice(src, -1, pw, -1, 100, 0))
	buf := make([]byte, 64)
	n, err := unix.Read(pr, buf)
	require.NoError(t, err)
	require.Equal(t, content, buf[:n])

	// A pipe has no offset to splice from.
	_, err = r.Do(t.Context(), ops.Splice(pr, 0, dst, 0, 1, 0))
	require.ErrorIs(t, err, unix.ESPIPE)
}

func TestTee(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpTee)
	ar, aw := pipe(t)
	br, bw := pipe(t)
	_, err := unix.Write(aw, []byte("duplicate me"))
	require.NoError(t, err)

	res := do(t, r, ops.Tee(ar, bw, 9, 0))
	require.Equal(t, 9, res.N())

	// tee copied without consuming: both pipes hold the bytes.
	buf := make([]byte, 64)
	n, err := unix.Read(br, buf)
	require.NoError(t, err)
	require.Equal(t, "duplicate", string(buf[:n]))
	n, err = unix.Read(ar, buf)
	require.NoError(t, err)
	require.Equal(t, "duplicate me", string(buf[:n]))

	// tee needs pipes on both sides.
	_, fd := tempFile(t, []byte("x"))
	_, err = r.Do(t.Context(), ops.Tee(fd, bw, 1, 0))
	require.ErrorIs(t, err, unix.EINVAL)
}

func TestPipeOpsRejectBadInput(t *testing.T) {
	r := newRing(t)
	requireRejected(t, r, ops.Splice(-1, -1, 1, -1, 1, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Splice(0, -1, -1, -1, 1, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Splice(0, -2, 1, -1, 1, 0), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.Splice(0, -1, 1, -7, 1, 0), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.Splice(0, -1, 1, -1, -1, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.Tee(-1, 1, 1, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Tee(0, -1, 1, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Tee(0, 1, -1, 0), ops.ErrNegativeLength)
}
