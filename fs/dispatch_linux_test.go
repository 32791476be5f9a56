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

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
	"github.com/goaio/uring/internal/pagecache"
)

// The dispatch rule: a read the page cache can serve is a system call (the
// ring's Submitted does not move); a read that would go to the device, and
// every O_DIRECT read, goes to the ring. The data is right on every path.
func TestReadAtDispatch(t *testing.T) {
	r := newRing(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "data")
	content := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	writeFile(t, p, content)

	f, err := fs.OpenFile(p, os.O_RDONLY, 0, fs.WithRing(r))
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 64<<10)
	readAll := func() {
		t.Helper()
		for off := 0; off < len(content); off += len(buf) {
			n, err := f.ReadAt(buf, int64(off))
			require.NoError(t, err)
			require.Equal(t, content[off:off+n], buf[:n])
		}
	}

	t.Run("warm", func(t *testing.T) {
		readAll() // caches every page
		before := r.Stats().Submitted
		readAll()
		n, err := f.Read(buf)
		require.NoError(t, err)
		require.Equal(t, content[:n], buf[:n])
		big := make([]byte, 256<<10) // past the size read without entersyscall
		n, err = f.ReadAt(big, 4096)
		require.NoError(t, err)
		require.Equal(t, len(big), n)
		require.Equal(t, content[4096:4096+n], big)
		require.Equal(t, before, r.Stats().Submitted, "cached reads went to the ring")
	})

	drop := func(t *testing.T, p string) {
		t.Helper()
		of, err := os.Open(p)
		require.NoError(t, err)
		defer of.Close()
		require.NoError(t, of.Sync())
		if err := pagecache.Drop(of); err != nil {
			var skip *pagecache.SkipError
			if errors.As(err, &skip) {
				t.Skip(skip.Reason)
			}
			require.NoError(t, err)
		}
		if res, err := pagecache.Resident(of); err != nil || res > 0 {
			t.Skipf("%s keeps its pages cached (resident %.2f, %v): nothing is cold here", dir, res, err)
		}
	}

	// The File has read warm pages and opened a warm window (reads made as
	// pread64); the window ends after 256 reads and the File asks the page
	// cache again, so a pass after the pages are dropped reaches the ring
	// within a few tries (reachesRing allows 200 of 16 reads). On a
	// file system without RWF_NOWAIT reads (tmpfs, overlayfs, FUSE) the ring
	// would hand every read to a worker thread: none goes there.
	noNowait := !nowaitReads(t, p)
	t.Run("warm then cold", func(t *testing.T) {
		if noNowait {
			drop(t, p)
			before := r.Stats().Submitted
			readAll()
			require.Equal(t, before, r.Stats().Submitted, "%s has no RWF_NOWAIT reads, yet a read went to the ring", dir)
			return
		}
		reachesRing(t, r, func() { drop(t, p) }, readAll)
	})

	// A file never read, so no readahead of an earlier read can refill it.
	t.Run("cold", func(t *testing.T) {
		if noNowait {
			t.Skip("no RWF_NOWAIT reads here: \"warm then cold\" showed the cold reads skip the ring")
		}
		p := filepath.Join(dir, "never-read")
		writeFile(t, p, content)
		tries := 0
		reachesRing(t, r, func() {
			// A file never read, so no readahead of an earlier read can
			// refill it: a new one for each try.
			tries++
			p = filepath.Join(dir, fmt.Sprintf("never-read-%d", tries))
			writeFile(t, p, content)
			drop(t, p)
		}, func() {
			cf, err := fs.OpenFile(p, os.O_RDONLY, 0, fs.WithRing(r))
			require.NoError(t, err)
			defer cf.Close()
			n, err := cf.ReadAt(buf, 0)
			require.NoError(t, err)
			require.Equal(t, content[:n], buf[:n])
		})
	})

	t.Run("direct", func(t *testing.T) {
		df, err := fs.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0, fs.WithRing(r))
		if errors.Is(err, syscall.EINVAL) {
			t.Skipf("%s does not support O_DIRECT: %v", dir, err)
		}
		require.NoError(t, err)
		defer df.Close()
		readAll() // cached: O_DIRECT must not take the cached path anyway
		aligned := df.AlignedBuffer(len(buf))
		before := r.Stats().Submitted
		n, err := df.ReadAt(aligned, 0)
		require.NoError(t, err)
		require.Equal(t, content[:n], aligned[:n])
		if !directOnRing(t, dir) {
			require.Equal(t, before, r.Stats().Submitted, "%s: an O_DIRECT read went to the ring", dir)
			return
		}
		require.Greater(t, r.Stats().Submitted, before, "O_DIRECT read did not use the ring")
	})
}

// A File's read and write of warm data, on the system-call path and on the
// ring (a cold read), allocate nothing: the dispatch rule adds no garbage.
func TestReadWriteZeroAllocs(t *testing.T) {
	r := newRing(t)
	if raceEnabled {
		t.Skip("-race: sync.Pool drops items at random, so allocation counts are meaningless")
	}
	p := filepath.Join(t.TempDir(), "allocs")
	writeFile(t, p, make([]byte, 1<<16))
	f, err := fs.OpenFile(p, os.O_RDWR, 0, fs.WithRing(r))
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	for name, call := range map[string]func() error{
		"ReadAt":  func() error { _, err := f.ReadAt(buf, 4096); return err },
		"WriteAt": func() error { _, err := f.WriteAt(buf, 8192); return err },
		"Read": func() error {
			if _, err := f.Seek(0, 0); err != nil {
				return err
			}
			_, err := f.Read(buf)
			return err
		},
	} {
		var failed error
		do := func() {
			if err := call(); err != nil && failed == nil {
				failed = err
			}
		}
		for range 100 {
			do()
		}
		require.Zero(t, testing.AllocsPerRun(1000, do), name)
		require.NoError(t, failed, name)
	}
}

// directOnRing is the rule's table for O_DIRECT: the ring where RWF_NOWAIT
// reads work and on overlayfs (io-wq beat os's threads there, 1.79x), the
// system call elsewhere (tmpfs: a copy from memory; FUSE: 0.52x on the ring).
func directOnRing(t *testing.T, dir string) bool {
	p := filepath.Join(dir, "direct-probe")
	writeFile(t, p, []byte("probe"))
	defer os.Remove(p)
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	return st.Type == unix.OVERLAYFS_SUPER_MAGIC || nowaitReads(t, p) && st.Type != unix.TMPFS_MAGIC
}

// nowaitReads reports whether p's file system serves preadv2(RWF_NOWAIT)
// (overlayfs, in containers, answers EOPNOTSUPP).
func nowaitReads(t *testing.T, p string) bool {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	_, err = unix.Preadv2(int(f.Fd()), [][]byte{make([]byte, 1)}, 0, unix.RWF_NOWAIT)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return false
	}
	require.NoError(t, err)
	return true
}

// reachesRing runs evict and then read until read sends something to the
// ring r, and fails after coldAttempts tries. One try is not enough: a
// preadv2(RWF_NOWAIT) of evicted pages starts their readahead without
// waiting for it, and where the device answers within the call (a virtual
// disk backed by the host's page cache: about 30% of such reads here) the
// read returns the data, correctly, with no ring op. A rule that never asks
// the page cache (plain preads) would never reach the ring.
func reachesRing(t *testing.T, r *uring.Ring, evict, read func()) {
	t.Helper()
	for try := 0; try < coldAttempts; try++ {
		evict()
		before := r.Stats().Submitted
		read()
		if r.Stats().Submitted > before {
			return
		}
	}
	t.Fatalf("%d reads of evicted pages never reached the ring", coldAttempts)
}

// coldAttempts: where 70% of evicted reads complete inline, 200 in a row
// happen with probability 1e-31.
const coldAttempts = 200
