//go:build linux

package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
)

// syncCalls are SyncData, SyncRange, Allocate and Advise on *fs.File, and the
// same calls made with x/sys/unix on an *os.File's descriptor: the reference.
type syncCalls struct {
	name      string
	open      func(t *testing.T, path string, flag int) (closer, error)
	syncData  func(f closer) error
	syncRange func(f closer, off, n int64, flags int) error
	allocate  func(f closer, mode uint32, off, n int64) error
	advise    func(f closer, off, n int64, advice int) error
}

type closer interface {
	Close() error
	WriteAt([]byte, int64) (int, error)
	Name() string
}

func fsCalls(name string, opts ...fs.Option) syncCalls {
	return syncCalls{
		name: name,
		open: func(t *testing.T, p string, flag int) (closer, error) {
			f, err := fs.OpenFile(p, flag, 0o666, opts...)
			if err != nil {
				return nil, err
			}
			require.Equal(t, len(opts) == 0, f.UsesRing(), "%s: UsesRing", name)
			return f, nil
		},
		syncData:  func(f closer) error { return f.(*fs.File).SyncData() },
		syncRange: func(f closer, off, n int64, flags int) error { return f.(*fs.File).SyncRange(off, n, flags) },
		allocate:  func(f closer, mode uint32, off, n int64) error { return f.(*fs.File).Allocate(mode, off, n) },
		advise:    func(f closer, off, n int64, advice int) error { return f.(*fs.File).Advise(off, n, advice) },
	}
}

var unixCalls = syncCalls{
	name: "unix",
	open: func(t *testing.T, p string, flag int) (closer, error) {
		f, err := os.OpenFile(p, flag, 0o666)
		if err != nil {
			return nil, err
		}
		return f, nil
	},
	syncData: func(f closer) error { return unix.Fdatasync(fdOf(f)) },
	syncRange: func(f closer, off, n int64, flags int) error {
		return unix.SyncFileRange(fdOf(f), off, n, flags)
	},
	allocate: func(f closer, mode uint32, off, n int64) error { return unix.Fallocate(fdOf(f), mode, off, n) },
	advise:   func(f closer, off, n int64, advice int) error { return unix.Fadvise(fdOf(f), off, n, advice) },
}

func fdOf(f closer) int { return int(f.(*os.File).Fd()) }

// syncVariants returns fs on the ring (where io_uring works) and on the os
// fallback, each to be checked against unixCalls.
func syncVariants(t *testing.T) []syncCalls {
	list := []syncCalls{fsCalls("fs-fallback", fs.WithoutRing())}
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1): %v", err)
		}
		t.Logf("io_uring unavailable, only the fallback runs: %v", err)
		return list
	}
	return append(list, fsCalls("fs-ring"))
}

// errnoOf is the errno inside err, 0 for nil; it fails t for anything else.
func errnoOf(t *testing.T, call string, err error) syscall.Errno {
	t.Helper()
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	require.True(t, errors.As(err, &errno), "%s: %v is no errno", call, err)
	return errno
}

// checkPathErr fails t unless err is an *os.PathError with op and path.
func checkPathErr(t *testing.T, err error, op, path string) {
	t.Helper()
	var pe *os.PathError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, op, pe.Op)
	require.Equal(t, path, pe.Path)
}

// resident is the part of n bytes at off of the file at path that is in the
// page cache (mincore on a mapping, which faults nothing in).
func resident(t *testing.T, path string, off, n int64) float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(mem)
	page := int64(os.Getpagesize())
	vec := make([]byte, (n+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0])))
	require.Zero(t, errno, "mincore")
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec))
}

// requireDroppableCache skips t where fadvise cannot drop pages (tmpfs).
func requireDroppableCache(t *testing.T, dir string) {
	t.Helper()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		t.Skipf("%s is tmpfs: its pages live in the page cache, so write-back and FADV_DONTNEED cannot be observed", dir)
	}
	// Other file systems may not drop either (overlayfs in a container
	// keeps its pages), or keep none (FUSE's bindfs): try it with the system
	// calls themselves.
	p := filepath.Join(dir, "droppable")
	require.NoError(t, os.WriteFile(p, make([]byte, 1<<20), 0o600))
	defer os.Remove(p)
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	if res := resident(t, p, 0, 1<<20); res < 0.9 {
		t.Skipf("%s keeps no written pages cached (resident %.2f): the effects cannot be observed", dir, res)
	}
	require.NoError(t, unix.Fdatasync(int(f.Fd())))
	require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
	if res := resident(t, p, 0, 1<<20); res > 0.1 {
		t.Skipf("%s keeps pages cached after fdatasync and FADV_DONTNEED (resident %.2f): the effects cannot be observed", dir, res)
	}
}

const syncMiB = 1 << 20

// Each call does what the system call does: the same result, and the same
// effect on the page cache or the file's blocks, for fs on the ring, on the
// fallback, and for x/sys/unix on an *os.File.
func TestSyncCallsMatchUnix(t *testing.T) {
	dir := t.TempDir()
	requireDroppableCache(t, dir)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4*syncMiB/16)
	calls := append([]syncCalls{unixCalls}, syncVariants(t)...)

	// newFile writes data to a new file and returns it open read-write:
	// all its pages dirty in the page cache.
	newFile := func(t *testing.T, c syncCalls, name string) (closer, string) {
		p := filepath.Join(dir, c.name+"-"+name)
		f, err := c.open(t, p, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		_, err = f.WriteAt(data, 0)
		require.NoError(t, err)
		return f, p
	}
	dropAll := func(t *testing.T, p string, off, n int64) {
		f, err := os.Open(p)
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED))
	}

	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Run("SyncData", func(t *testing.T) {
				// Written back, the pages are clean, and DONTNEED drops them;
				// dirty pages it cannot.
				f, p := newFile(t, c, "syncdata")
				require.NoError(t, c.syncData(f))
				dropAll(t, p, 0, 0)
				require.Less(t, resident(t, p, 0, int64(len(data))), 0.1, "pages still cached after fdatasync and DONTNEED")
			})
			t.Run("SyncRange", func(t *testing.T) {
				if why := syncRangeUnobservable(t, dir); why != "" {
					t.Skip(why)
				}
				// The second half written back and waited for, the first not.
				f, p := newFile(t, c, "syncrange")
				half := int64(len(data) / 2)
				const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
				require.NoError(t, c.syncRange(f, half, half, wait))
				dropAll(t, p, half, half)
				require.Less(t, resident(t, p, half, half), 0.1, "second half still cached after sync_file_range and DONTNEED")
				require.Greater(t, resident(t, p, 0, half), 0.9, "first half, never dropped, must stay cached")
				// n == 0 means to the end of the file.
				require.NoError(t, c.syncRange(f, 0, 0, wait))
				dropAll(t, p, 0, 0)
				require.Less(t, resident(t, p, 0, int64(len(data))), 0.1, "file still cached after sync_file_range(0, 0) and DONTNEED")
				// Flags reach the kernel: an unknown one is EINVAL.
				require.Equal(t, unix.EINVAL, errnoOf(t, "sync_file_range(bad flags)", c.syncRange(f, 0, 0, 0x80)))
				require.Equal(t, unix.EINVAL, errnoOf(t, "sync_file_range(-1)", c.syncRange(f, -1, 0, wait)))
				// Beyond an SQE's 32-bit length.
				require.NoError(t, c.syncRange(f, 0, 1<<33, wait))
			})
			t.Run("Allocate", func(t *testing.T) {
				p := filepath.Join(dir, c.name+"-allocate")
				f, err := c.open(t, p, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
				require.NoError(t, err)
				defer f.Close()
				if errno := allocateErrno(t, dir); errno != 0 {
					// A file system without fallocate (FUSE's bindfs): the same refusal.
					require.Equal(t, errno, errnoOf(t, "fallocate", c.allocate(f, unix.FALLOC_FL_KEEP_SIZE, 0, syncMiB)))
					t.Skipf("%s: fallocate: %v", dir, errno)
				}
				// KEEP_SIZE reserves blocks and leaves the size alone.
				require.NoError(t, c.allocate(f, unix.FALLOC_FL_KEEP_SIZE, 0, syncMiB))
				var st unix.Stat_t
				require.NoError(t, unix.Stat(p, &st))
				require.Zero(t, st.Size)
				require.GreaterOrEqual(t, st.Blocks*512, int64(syncMiB), "blocks reserved")
				// Mode 0 extends the file.
				require.NoError(t, c.allocate(f, 0, syncMiB, syncMiB))
				require.NoError(t, unix.Stat(p, &st))
				require.Equal(t, int64(2*syncMiB), st.Size)
				// PUNCH_HOLE zeroes the range.
				_, err = f.WriteAt(data[:2*syncMiB], 0)
				require.NoError(t, err)
				require.NoError(t, c.allocate(f, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 4096, 8192))
				got, err := os.ReadFile(p)
				require.NoError(t, err)
				require.Equal(t, data[:4096], got[:4096])
				require.Equal(t, make([]byte, 8192), got[4096:12288])
				require.Equal(t, data[12288:2*syncMiB], got[12288:])
				require.Equal(t, unix.EINVAL, errnoOf(t, "fallocate(n=0)", c.allocate(f, 0, 0, 0)))
				require.Equal(t, unix.EINVAL, errnoOf(t, "fallocate(-1)", c.allocate(f, 0, -1, 10)))
				require.Equal(t, unix.EOPNOTSUPP, errnoOf(t, "fallocate(PUNCH_HOLE without KEEP_SIZE)", c.allocate(f, unix.FALLOC_FL_PUNCH_HOLE, 0, 10)))
				// A read-only file cannot be allocated.
				ro, err := c.open(t, p, os.O_RDONLY)
				require.NoError(t, err)
				defer ro.Close()
				require.Equal(t, unix.EBADF, errnoOf(t, "fallocate(O_RDONLY)", c.allocate(ro, 0, 0, 10)))
			})
			t.Run("Advise", func(t *testing.T) {
				f, p := newFile(t, c, "advise")
				require.NoError(t, unix.Fdatasync(fdOfPath(t, p)))
				require.NoError(t, c.advise(f, 0, 0, unix.FADV_DONTNEED))
				require.Less(t, resident(t, p, 0, int64(len(data))), 0.1, "DONTNEED left pages cached")
				// WILLNEED reads the range in (asynchronously), where the file
				// system reads ahead for it (FUSE's bindfs does not).
				require.NoError(t, c.advise(f, syncMiB, syncMiB, unix.FADV_WILLNEED))
				if willNeedWorks(t, dir) {
					require.Eventually(t, func() bool { return resident(t, p, syncMiB, syncMiB) > 0.9 }, 5*time.Second, time.Millisecond,
						"WILLNEED did not bring the range in")
					require.Less(t, resident(t, p, 2*syncMiB, 2*syncMiB), 0.5, "WILLNEED read beyond its range")
				}
				for _, advice := range []int{unix.FADV_NORMAL, unix.FADV_RANDOM, unix.FADV_SEQUENTIAL, unix.FADV_NOREUSE} {
					require.NoError(t, c.advise(f, 0, 0, advice), "advice %d", advice)
				}
				require.NoError(t, c.advise(f, 0, 1<<33, unix.FADV_NORMAL), "beyond an SQE's 32-bit length")
				require.Equal(t, unix.EINVAL, errnoOf(t, "fadvise(bad advice)", c.advise(f, 0, 0, 99)))
				require.Equal(t, unix.EINVAL, errnoOf(t, "fadvise(n=-1)", c.advise(f, 0, -1, unix.FADV_NORMAL)))
			})
		})
	}
}

// syncRangeUnobservable says why sync_file_range's write-back cannot be
// seen in dir ("" where it can): tried with the system calls themselves.
// overlayfs and FUSE leave the pages cached after it and DONTNEED.
func syncRangeUnobservable(t *testing.T, dir string) string {
	p := filepath.Join(dir, "syncrange-probe")
	require.NoError(t, os.WriteFile(p, make([]byte, syncMiB), 0o600))
	defer os.Remove(p)
	fd := fdOfPath(t, p)
	const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	require.NoError(t, unix.SyncFileRange(fd, 0, 0, wait))
	require.NoError(t, unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED))
	if res := resident(t, p, 0, syncMiB); res > 0.1 {
		return fmt.Sprintf("%s keeps pages cached after sync_file_range and FADV_DONTNEED (resident %.2f)", dir, res)
	}
	return ""
}

// allocateErrno is fallocate(2)'s refusal in dir, 0 where it works.
func allocateErrno(t *testing.T, dir string) syscall.Errno {
	f, err := os.CreateTemp(dir, "allocate-probe-")
	require.NoError(t, err)
	defer os.Remove(f.Name())
	defer f.Close()
	return errnoOf(t, "fallocate probe", unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, 4096))
}

// willNeedWorks reports whether FADV_WILLNEED brings pages into the cache in
// dir, tried with the system calls themselves.
func willNeedWorks(t *testing.T, dir string) bool {
	p := filepath.Join(dir, "willneed-probe")
	require.NoError(t, os.WriteFile(p, make([]byte, syncMiB), 0o600))
	defer os.Remove(p)
	fd := fdOfPath(t, p)
	require.NoError(t, unix.Fdatasync(fd))
	require.NoError(t, unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED))
	require.NoError(t, unix.Fadvise(fd, 0, 0, unix.FADV_WILLNEED))
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if resident(t, p, 0, syncMiB) > 0.9 {
			return true
		}
	}
	t.Logf("%s: FADV_WILLNEED does not read ahead here", dir)
	return false
}

// fdOfPath opens path for the test's remainder and returns the descriptor.
func fdOfPath(t *testing.T, p string) int {
	f, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// Errors are *os.PathError named after the system call; after Close they
// wrap os.ErrClosed; on a pipe (never on the ring) they are the kernel's.
func TestSyncCallsErrors(t *testing.T) {
	calls := map[string]func(f *fs.File) error{
		"fdatasync":       func(f *fs.File) error { return f.SyncData() },
		"sync_file_range": func(f *fs.File) error { return f.SyncRange(0, 0, unix.SYNC_FILE_RANGE_WRITE) },
		"fallocate":       func(f *fs.File) error { return f.Allocate(0, 0, 10) },
		"fadvise":         func(f *fs.File) error { return f.Advise(0, 0, unix.FADV_NORMAL) },
	}
	for _, v := range syncVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			c, err := v.open(t, p, os.O_RDWR|os.O_CREATE)
			require.NoError(t, err)
			f := c.(*fs.File)
			// What the system calls give on the same file: fallocate is
			// EOPNOTSUPP on some file systems (FUSE's bindfs).
			fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
			require.NoError(t, err)
			defer unix.Close(fd)
			unixErrs := map[string]error{
				"fdatasync":       unix.Fdatasync(fd),
				"sync_file_range": unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE),
				"fallocate":       unix.Fallocate(fd, 0, 0, 10),
				"fadvise":         unix.Fadvise(fd, 0, 0, unix.FADV_NORMAL),
			}
			for op, call := range calls {
				if want := unixErrs[op]; want != nil {
					err := call(f)
					checkPathErr(t, err, op, p)
					require.ErrorIs(t, err, want, op)
					continue
				}
				require.NoError(t, call(f), op)
			}
			// Invalid arguments: the kernel's error, wrapped with the op.
			badErrs := map[string]error{
				"sync_file_range": unix.SyncFileRange(fd, 0, 0, 0x80),
				"fallocate":       unix.Fallocate(fd, 0, 0, 0),
				"fadvise":         unix.Fadvise(fd, 0, 0, 99),
			}
			for op, err := range map[string]error{
				"sync_file_range": f.SyncRange(0, 0, 0x80),
				"fallocate":       f.Allocate(0, 0, 0),
				"fadvise":         f.Advise(0, 0, 99),
			} {
				checkPathErr(t, err, op, p)
				require.Error(t, badErrs[op], op)
				require.ErrorIs(t, err, badErrs[op], op)
			}
			require.NoError(t, f.Close())
			for op, call := range calls {
				err := call(f)
				checkPathErr(t, err, op, p)
				require.ErrorIs(t, err, os.ErrClosed, op)
			}
		})
	}
	t.Run("pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		require.NoError(t, err)
		defer r.Close()
		defer w.Close()
		fd, err := unix.Dup(int(w.Fd()))
		require.NoError(t, err)
		f := fs.NewFile(uintptr(fd), "|pipe")
		defer f.Close()
		require.False(t, f.UsesRing())
		want := map[string]error{
			"fdatasync":       unix.Fdatasync(int(w.Fd())),
			"sync_file_range": unix.SyncFileRange(int(w.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE),
			"fallocate":       unix.Fallocate(int(w.Fd()), 0, 0, 10),
			"fadvise":         unix.Fadvise(int(w.Fd()), 0, 0, unix.FADV_NORMAL),
		}
		for op, call := range calls {
			require.Error(t, want[op], "%s on a pipe should fail", op)
			err := call(f)
			checkPathErr(t, err, op, "|pipe")
			require.ErrorIs(t, err, want[op], op)
		}
	})
}
