//go:build linux

package fs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/fs"
)

// Each path's result is os.ReadFile's, whatever the other paths are: an empty
// path, a path with a NUL byte (os: EINVAL, never the file before the NUL),
// a missing file, a directory.
func TestDefect11ReadFilesPaths(t *testing.T) {
	requireUring(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	writeFile(t, good, []byte("good data"))
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, nil)
	paths := []string{good, "", good + "\x00other", filepath.Join(dir, "missing"), dir, empty, "\x00", good}
	for _, opts := range [][]fs.Option{nil, {fs.WithoutRing()}} {
		datas, errs := fs.ReadFiles(context.Background(), paths, opts...)
		for i, p := range paths {
			want, wantErr := os.ReadFile(p)
			what := fmt.Sprintf("path %q (ring: %v)", p, opts == nil)
			if wantErr == nil {
				require.NoError(t, errs[i], what)
				require.Equal(t, want, datas[i], what)
				continue
			}
			require.Error(t, errs[i], what)
			require.Equal(t, wantErr.Error(), errs[i].Error(), what)
			var pe *os.PathError
			require.ErrorAs(t, errs[i], &pe, what)
			var en syscall.Errno
			require.ErrorAs(t, wantErr, &en, what)
			require.ErrorIs(t, errs[i], en, what)
			require.Len(t, datas[i], len(want), what)
		}
	}
}

// ReadFiles closes each descriptor it opened exactly once, also when its
// Ring is closed while it closes them: a second close(2) of a number the
// process has reused closes somebody else's file.
func TestDefect11ReadFilesClosesOnce(t *testing.T) {
	requireUring(t)
	dir := t.TempDir()
	const files = 2000 // many submissions' worth of closes
	paths := make([]string, files)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%04d", i))
		writeFile(t, paths[i], []byte{byte(i)})
	}
	sentinel, err := os.Open(filepath.Join(dir, "f0000"))
	require.NoError(t, err)
	defer sentinel.Close()
	var sst unix.Stat_t
	require.NoError(t, unix.Fstat(int(sentinel.Fd()), &sst))
	isOpen := func(fd int) bool { _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); return err == nil }

	countFds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(ents)
	}
	before := countFds()
	for round := 0; round < 5; round++ {
		r := newRing(t)
		// The lowest free number: ReadFiles's first open gets it.
		first, err := unix.Dup(int(sentinel.Fd()))
		require.NoError(t, err)
		unix.Close(first)

		// As soon as ReadFiles's first closes ran, take the freed numbers
		// (as any goroutine opening files would) and close the Ring.
		var done atomic.Bool
		var mine []int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for !isOpen(first) {
				if done.Load() {
					return
				}
			}
			for isOpen(first) {
				if done.Load() {
					return
				}
			}
			for range 64 {
				fd, err := unix.Dup(int(sentinel.Fd()))
				if err != nil {
					t.Errorf("dup: %v", err)
					return
				}
				mine = append(mine, fd)
			}
		}()
		fs.ReadFiles(context.Background(), paths, fs.WithRing(r))
		done.Store(true)
		wg.Wait()
		var lost []int
		for _, fd := range mine {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil || st.Ino != sst.Ino {
				lost = append(lost, fd)
				continue
			}
			unix.Close(fd)
		}
		if len(lost) > 0 {
			t.Fatalf("round %d: fds %v, opened after ReadFiles had closed those numbers, were closed again", round, lost)
		}
	}
	require.Equal(t, before, countFds(), "descriptors leaked")
}

// A list longer than RLIMIT_NOFILE reads as a loop of os.ReadFile does:
// ReadFiles holds a bounded number of descriptors at a time.
func TestDefect11ReadFilesBeyondFdLimit(t *testing.T) {
	requireUring(t)
	dir := t.TempDir()
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%04d", i))
		writeFile(t, paths[i], []byte(fmt.Sprint(i)))
	}
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old))
	lowered := old
	lowered.Cur = uint64(len(ents)) + 400 // room for 256 at a time, not for 1000
	require.Less(t, lowered.Cur, old.Cur, "the test needs a soft limit above %d", lowered.Cur)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered))
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	r := newRing(t)
	datas, errs := fs.ReadFiles(context.Background(), paths, fs.WithRing(r))
	for i := range paths {
		require.NoError(t, errs[i], "path %d", i)
		require.Equal(t, fmt.Sprint(i), string(datas[i]))
	}
}
