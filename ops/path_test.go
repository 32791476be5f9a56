//go:build linux

package ops_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

func TestOpenatClose(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpOpenat, ops.OpClose)
	dir := t.TempDir()
	path := filepath.Join(dir, "new")

	// Absolute path from the working directory, creating the file.
	res := do(t, r, ops.Openat(unix.AT_FDCWD, path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o600))
	fd := res.N()
	require.Positive(t, fd)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "a umask never clears owner bits")
	n, err := unix.Write(fd, []byte("via openat"))
	require.NoError(t, err)
	require.Equal(t, 10, n)

	require.Equal(t, int32(0), do(t, r, ops.Close(fd)).Res)
	requireClosed(t, fd)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "via openat", string(got))

	// Relative to a directory fd; O_EXCL on an existing file fails.
	dfd := openDir(t, dir)
	res = do(t, r, ops.Openat(dfd, "new", unix.O_RDONLY|unix.O_CLOEXEC, 0))
	closeFd(t, res.N())
	_, err = r.Do(t.Context(), ops.Openat(dfd, "new", unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY, 0o600))
	require.ErrorIs(t, err, unix.EEXIST)
	_, err = r.Do(t.Context(), ops.Openat(dfd, "missing", unix.O_RDONLY, 0))
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = r.Do(t.Context(), ops.Close(1<<20))
	require.ErrorIs(t, err, unix.EBADF)
}

func TestOpenat2(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpOpenat2)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "in"), []byte("inside"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "out"), []byte("outside"), 0o644))
	sub := openDir(t, filepath.Join(dir, "sub"))

	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH}
	fd := do(t, r, ops.Openat2(sub, "in", how)).N()
	closeFd(t, fd)
	buf := make([]byte, 16)
	n, err := unix.Read(fd, buf)
	require.NoError(t, err)
	require.Equal(t, "inside", string(buf[:n]))

	// RESOLVE_BENEATH: escaping the directory fails with EXDEV, while the
	// same path opens fine without the restriction.
	_, err = r.Do(t.Context(), ops.Openat2(sub, "../out", how))
	require.ErrorIs(t, err, unix.EXDEV)
	_, err = r.Do(t.Context(), ops.Openat2(sub, filepath.Join(dir, "out"), how))
	require.ErrorIs(t, err, unix.EXDEV, "absolute paths escape too")
	free := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC}
	closeFd(t, do(t, r, ops.Openat2(sub, "../out", free)).N())

	// Creating with a mode.
	create := &unix.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_CLOEXEC, Mode: 0o600}
	closeFd(t, do(t, r, ops.Openat2(sub, "made", create)).N())
	st, err := os.Stat(filepath.Join(dir, "sub", "made"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestCloseFixed(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpClose)
	_, fd := tempFile(t, []byte("fixed"))
	require.NoError(t, r.RegisterFiles([]int{-1, fd}))
	t.Cleanup(func() { r.UnregisterFiles() })

	buf := make([]byte, 5)
	require.Equal(t, 5, do(t, r, ops.Read(1, buf, 0).WithFlags(ops.FlagFixedFile)).N())
	require.Equal(t, "fixed", string(buf))

	// Closing table entry 1 empties it; the process's fd stays open.
	require.Equal(t, int32(0), do(t, r, ops.CloseFixed(1)).Res)
	_, err := r.Do(t.Context(), ops.Read(1, buf, 0).WithFlags(ops.FlagFixedFile))
	require.ErrorIs(t, err, unix.EBADF)
	_, err = unix.Pread(fd, buf, 0)
	require.NoError(t, err)

	// An empty entry cannot be closed.
	_, err = r.Do(t.Context(), ops.CloseFixed(0))
	require.ErrorIs(t, err, unix.EBADF)
}

func TestStatx(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpStatx)
	path, fd := tempFile(t, []byte("twelve bytes"))
	require.NoError(t, os.Chmod(path, 0o751))
	want, err := os.Stat(path)
	require.NoError(t, err)

	check := func(st *unix.Statx_t) {
		t.Helper()
		require.NotZero(t, st.Mask&unix.STATX_SIZE)
		require.Equal(t, uint64(want.Size()), st.Size)
		require.Equal(t, uint32(want.Mode().Perm()), uint32(st.Mode)&0o777)
		require.Equal(t, uint32(unix.S_IFREG), uint32(st.Mode)&unix.S_IFMT)
		require.Equal(t, want.Sys().(*syscall.Stat_t).Ino, st.Ino)
	}

	var st unix.Statx_t
	require.Equal(t, int32(0), do(t, r, ops.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BASIC_STATS, &st)).Res)
	check(&st)

	// AT_EMPTY_PATH describes the fd itself.
	st = unix.Statx_t{}
	require.Equal(t, int32(0), do(t, r, ops.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &st)).Res)
	check(&st)

	// A directory, relative to a directory fd.
	dfd := openDir(t, filepath.Dir(path))
	st = unix.Statx_t{}
	do(t, r, ops.Statx(dfd, ".", 0, unix.STATX_TYPE, &st))
	require.Equal(t, uint32(unix.S_IFDIR), uint32(st.Mode)&unix.S_IFMT)

	_, err = r.Do(t.Context(), ops.Statx(dfd, "missing", 0, unix.STATX_BASIC_STATS, &st))
	require.ErrorIs(t, err, unix.ENOENT)
}

func TestMkdiratUnlinkat(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpMkdirat, ops.OpUnlinkat)
	dir := t.TempDir()
	dfd := openDir(t, dir)

	require.Equal(t, int32(0), do(t, r, ops.Mkdirat(dfd, "d", 0o700)).Res)
	st, err := os.Stat(filepath.Join(dir, "d"))
	require.NoError(t, err)
	require.True(t, st.IsDir())
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	_, err = r.Do(t.Context(), ops.Mkdirat(dfd, "d", 0o700))
	require.ErrorIs(t, err, unix.EEXIST)

	abs := filepath.Join(dir, "abs")
	do(t, r, ops.Mkdirat(unix.AT_FDCWD, abs, 0o755))
	require.DirExists(t, abs)

	// A directory needs AT_REMOVEDIR; a file must not have it.
	_, err = r.Do(t.Context(), ops.Unlinkat(dfd, "d", 0))
	require.ErrorIs(t, err, unix.EISDIR)
	require.Equal(t, int32(0), do(t, r, ops.Unlinkat(dfd, "d", unix.AT_REMOVEDIR)).Res)
	require.NoDirExists(t, filepath.Join(dir, "d"))
	do(t, r, ops.Unlinkat(unix.AT_FDCWD, abs, unix.AT_REMOVEDIR))
	require.NoDirExists(t, abs)

	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = r.Do(t.Context(), ops.Unlinkat(dfd, "file", unix.AT_REMOVEDIR))
	require.ErrorIs(t, err, unix.ENOTDIR)
	require.Equal(t, int32(0), do(t, r, ops.Unlinkat(dfd, "file", 0)).Res)
	require.NoFileExists(t, file)

	_, err = r.Do(t.Context(), ops.Unlinkat(dfd, "file", 0))
	require.ErrorIs(t, err, unix.ENOENT)
}

func TestRenameat(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpRenameat)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "to"), 0o755))
	from, to := openDir(t, dir), openDir(t, filepath.Join(dir, "to"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("A"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "to", "b"), []byte("B"), 0o644))

	// Across two directory fds.
	require.Equal(t, int32(0), do(t, r, ops.Renameat(from, "a", to, "a2", 0)).Res)
	require.NoFileExists(t, filepath.Join(dir, "a"))
	got, err := os.ReadFile(filepath.Join(dir, "to", "a2"))
	require.NoError(t, err)
	require.Equal(t, "A", string(got))

	// RENAME_NOREPLACE refuses to overwrite; RENAME_EXCHANGE swaps.
	_, err = r.Do(t.Context(), ops.Renameat(to, "a2", to, "b", unix.RENAME_NOREPLACE))
	require.ErrorIs(t, err, unix.EEXIST)
	do(t, r, ops.Renameat(to, "a2", to, "b", unix.RENAME_EXCHANGE))
	got, err = os.ReadFile(filepath.Join(dir, "to", "b"))
	require.NoError(t, err)
	require.Equal(t, "A", string(got))
	got, err = os.ReadFile(filepath.Join(dir, "to", "a2"))
	require.NoError(t, err)
	require.Equal(t, "B", string(got))

	// Absolute paths.
	do(t, r, ops.Renameat(unix.AT_FDCWD, filepath.Join(dir, "to", "b"), unix.AT_FDCWD, filepath.Join(dir, "c"), 0))
	require.FileExists(t, filepath.Join(dir, "c"))
	require.NoFileExists(t, filepath.Join(dir, "to", "b"))
}

func TestSymlinkat(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSymlinkat)
	dir := t.TempDir()
	dfd := openDir(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "target"), []byte("T"), 0o644))

	require.Equal(t, int32(0), do(t, r, ops.Symlinkat("target", dfd, "link")).Res)
	dest, err := os.Readlink(filepath.Join(dir, "link"))
	require.NoError(t, err)
	require.Equal(t, "target", dest)
	got, err := os.ReadFile(filepath.Join(dir, "link"))
	require.NoError(t, err)
	require.Equal(t, "T", string(got))

	// A dangling link is fine; an existing name is not.
	do(t, r, ops.Symlinkat("/nonexistent/x", unix.AT_FDCWD, filepath.Join(dir, "dangling")))
	dest, err = os.Readlink(filepath.Join(dir, "dangling"))
	require.NoError(t, err)
	require.Equal(t, "/nonexistent/x", dest)
	_, err = r.Do(t.Context(), ops.Symlinkat("target", dfd, "link"))
	require.ErrorIs(t, err, unix.EEXIST)
}

func TestLinkat(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpLinkat)
	dir := t.TempDir()
	dfd := openDir(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "orig"), []byte("O"), 0o644))
	require.NoError(t, os.Symlink("orig", filepath.Join(dir, "sym")))

	require.Equal(t, int32(0), do(t, r, ops.Linkat(dfd, "orig", dfd, "hard", 0)).Res)
	a, err := os.Stat(filepath.Join(dir, "orig"))
	require.NoError(t, err)
	b, err := os.Stat(filepath.Join(dir, "hard"))
	require.NoError(t, err)
	require.True(t, os.SameFile(a, b))
	require.Equal(t, uint64(2), a.Sys().(*syscall.Stat_t).Nlink)

	// Without AT_SYMLINK_FOLLOW the link names the symlink itself; with it,
	// the file the symlink points to.
	do(t, r, ops.Linkat(dfd, "sym", unix.AT_FDCWD, filepath.Join(dir, "symlink2"), 0))
	st, err := os.Lstat(filepath.Join(dir, "symlink2"))
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, st.Mode().Type())
	do(t, r, ops.Linkat(dfd, "sym", dfd, "followed", unix.AT_SYMLINK_FOLLOW))
	st, err = os.Lstat(filepath.Join(dir, "followed"))
	require.NoError(t, err)
	require.True(t, os.SameFile(a, st))

	_, err = r.Do(t.Context(), ops.Linkat(dfd, "missing", dfd, "x", 0))
	require.ErrorIs(t, err, unix.ENOENT)
}

func TestPathRejectsBadInput(t *testing.T) {
	r := newRing(t)
	var st unix.Statx_t
	requireRejected(t, r, ops.Openat(unix.AT_FDCWD, "", 0, 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Openat(-5, "x", 0, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Openat2(unix.AT_FDCWD, "", &unix.OpenHow{}), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Openat2(unix.AT_FDCWD, "x", nil), ops.ErrNilBuffer)
	requireRejected(t, r, ops.Openat2(-2, "x", &unix.OpenHow{}), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Close(-1), ops.ErrNegativeFd)
	requireRejected(t, r, ops.CloseFixed(-1), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Statx(unix.AT_FDCWD, "", 0, 0, &st), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Statx(unix.AT_FDCWD, "x", 0, 0, nil), ops.ErrNilBuffer)
	requireRejected(t, r, ops.Unlinkat(unix.AT_FDCWD, "", 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Renameat(unix.AT_FDCWD, "", unix.AT_FDCWD, "x", 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Renameat(unix.AT_FDCWD, "x", unix.AT_FDCWD, "", 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Mkdirat(unix.AT_FDCWD, "", 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Symlinkat("", unix.AT_FDCWD, "x"), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Symlinkat("x", unix.AT_FDCWD, ""), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Linkat(unix.AT_FDCWD, "", unix.AT_FDCWD, "x", 0), ops.ErrEmptyPath)
	requireRejected(t, r, ops.Linkat(unix.AT_FDCWD, "x", unix.AT_FDCWD, "", 0), ops.ErrEmptyPath)
}
