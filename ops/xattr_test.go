//go:build linux

package ops_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

// skipWithoutXattrs skips when the file system holding path refuses user
// extended attributes.
func skipWithoutXattrs(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("the file system of t.TempDir() has no user xattrs: %v", err)
	}
}

func TestSetxattrGetxattr(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSetxattr, ops.OpGetxattr)
	path, _ := tempFile(t, nil)
	const name = "user.goaio.path"

	_, err := r.Do(t.Context(), ops.Setxattr(path, name, []byte("value one"), 0))
	skipWithoutXattrs(t, err)
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, name, buf)
	require.NoError(t, err)
	require.Equal(t, "value one", string(buf[:n]), "setxattr wrote the attribute")

	require.NoError(t, unix.Setxattr(path, name, []byte("changed"), 0))
	res := do(t, r, ops.Getxattr(path, name, buf))
	require.Equal(t, "changed", string(buf[:res.N()]), "the result is the value's length")

	// An empty buffer asks for the size only.
	require.Equal(t, 7, do(t, r, ops.Getxattr(path, name, nil)).N())
	_, err = r.Do(t.Context(), ops.Getxattr(path, name, buf[:3]))
	require.ErrorIs(t, err, unix.ERANGE)

	// XATTR_CREATE and XATTR_REPLACE reach the kernel.
	_, err = r.Do(t.Context(), ops.Setxattr(path, name, []byte("x"), unix.XATTR_CREATE))
	require.ErrorIs(t, err, unix.EEXIST)
	_, err = r.Do(t.Context(), ops.Setxattr(path, "user.goaio.absent", []byte("x"), unix.XATTR_REPLACE))
	require.ErrorIs(t, err, unix.ENODATA)
	_, err = r.Do(t.Context(), ops.Getxattr(path, "user.goaio.absent", buf))
	require.ErrorIs(t, err, unix.ENODATA)
}

func TestFsetxattrFgetxattr(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpFsetxattr, ops.OpFgetxattr)
	path, fd := tempFile(t, nil)
	const name = "user.goaio.fd"

	_, err := r.Do(t.Context(), ops.Fsetxattr(fd, name, []byte("on the fd"), 0))
	skipWithoutXattrs(t, err)
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, name, buf)
	require.NoError(t, err)
	require.Equal(t, "on the fd", string(buf[:n]))

	require.NoError(t, unix.Setxattr(path, name, []byte("by path"), 0))
	res := do(t, r, ops.Fgetxattr(fd, name, buf))
	require.Equal(t, "by path", string(buf[:res.N()]))
	require.Equal(t, 7, do(t, r, ops.Fgetxattr(fd, name, nil)).N())

	// An empty value is a value too.
	do(t, r, ops.Fsetxattr(fd, name, nil, unix.XATTR_REPLACE))
	require.Equal(t, 0, do(t, r, ops.Fgetxattr(fd, name, buf)).N())

	_, err = r.Do(t.Context(), ops.Fsetxattr(fd, name, []byte("x"), unix.XATTR_CREATE))
	require.ErrorIs(t, err, unix.EEXIST)
	_, err = r.Do(t.Context(), ops.Fgetxattr(fd, "user.goaio.absent", buf))
	require.ErrorIs(t, err, unix.ENODATA)
}

func TestXattrRejectsBadInput(t *testing.T) {
	r := newRing(t)
	requireRejected(t, r, ops.Getxattr("", "user.x", nil), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Getxattr("/p", "", nil), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Setxattr("", "user.x", nil, 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Setxattr("/p", "", nil, 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Fgetxattr(-1, "user.x", nil), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Fgetxattr(0, "", nil), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Fsetxattr(-1, "user.x", nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Fsetxattr(0, "", nil, 0), ops.ErrEmptyPath)
}
