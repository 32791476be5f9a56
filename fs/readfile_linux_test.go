package fs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
	"github.com/goaio/uring/internal/pagecache"
)

// sameAsOS fails unless ReadFile's result for p is os.ReadFile's: the same
// bytes (nil where os gives nil), and an error of the same type, Op, Path
// and errno.
func sameAsOS(t *testing.T, p string, got []byte, err error) {
	t.Helper()
	want, wantErr := os.ReadFile(p)
	requireSameErr(t, wantErr, err)
	require.Equal(t, want == nil, got == nil, "%q: nil data", p)
	require.True(t, bytes.Equal(want, got), "%q: %d bytes, os read %d", p, len(got), len(want))
}

func requireSameErr(t *testing.T, want, got error) {
	t.Helper()
	if want == nil {
		require.NoError(t, got)
		return
	}
	require.Error(t, got)
	var wpe, gpe *os.PathError
	require.ErrorAs(t, want, &wpe)
	require.ErrorAs(t, got, &gpe, "want %v", want)
	require.Equal(t, wpe.Op, gpe.Op)
	require.Equal(t, wpe.Path, gpe.Path)
	require.Equal(t, wpe.Err, gpe.Err)
	require.Equal(t, want.Error(), got.Error())
}

// ReadFile gives os.ReadFile's result on every kind of path, with the
// default Ring, a given one, and without one.
func TestReadFileMatchesOS(t *testing.T) {
	dir := t.TempDir()
	join := func(name string) string { return filepath.Join(dir, name) }
	sizes := []int{1, 511, 512, 4095, 4096, 4097, 100_000, 1<<20 + 3}
	var paths []string
	for _, n := range sizes {
		p := join(fmt.Sprintf("size%d", n))
		writeFile(t, p, bytes.Repeat([]byte{byte(n)}, n))
		paths = append(paths, p)
	}
	writeFile(t, join("empty"), nil)
	require.NoError(t, os.Mkdir(join("dir"), 0o755))
	require.NoError(t, os.Symlink(join("size4096"), join("link")))
	require.NoError(t, os.Symlink(join("nowhere"), join("dangling")))
	require.NoError(t, os.Symlink(join("dir"), join("dirlink")))
	paths = append(paths, join("empty"), join("dir"), join("link"), join("dangling"), join("dirlink"),
		join("missing"), join("size1")+"/below", "", "bad\x00name", "/dev/null", "/proc/self/cmdline",
		"/sys/kernel/mm/transparent_hugepage/enabled") // sysfs: claims 4096 bytes, holds fewer
	// Names around the length ReadFile copies on the stack, and one with a
	// component too long (ENAMETOOLONG).
	long := join(strings.Repeat("d", 200))
	require.NoError(t, os.Mkdir(long, 0o755))
	for _, total := range []int{254, 255, 256, 257, 300} {
		if n := total - len(long) - 1; n > 0 && n < 256 {
			p := filepath.Join(long, strings.Repeat("f", n))
			writeFile(t, p, bytes.Repeat([]byte{byte(total)}, 4096))
			paths = append(paths, p, p+"x") // and a missing one
		}
	}
	paths = append(paths, join(strings.Repeat("n", 300)))

	r := newRing(t)
	for _, o := range []struct {
		name string
		opts []fs.Option
	}{{"default", nil}, {"WithRing", []fs.Option{fs.WithRing(r)}}, {"WithoutRing", []fs.Option{fs.WithoutRing()}}} {
		t.Run(o.name, func(t *testing.T) {
			for _, p := range paths {
				if strings.HasPrefix(p, "/sys/") {
					if _, err := os.Stat(p); err != nil {
						continue
					}
				}
				got, err := fs.ReadFile(p, o.opts...)
				sameAsOS(t, p, got, err)
			}
		})
	}
}

// /proc files claim size 0 and change between reads: ReadFile reads them
// whole, and its /proc/self/status has os's lines (their values move).
func TestReadFileProc(t *testing.T) {
	got, err := fs.ReadFile("/proc/self/status")
	require.NoError(t, err)
	want, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	keys := func(b []byte) []string {
		var ks []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			k, _, _ := strings.Cut(line, ":")
			ks = append(ks, k)
		}
		return ks
	}
	require.Equal(t, keys(want), keys(got))
	require.True(t, bytes.HasSuffix(got, []byte("\n")))
	// Larger than one read of minRead, and size 0: the loop grows the buffer.
	got, err = fs.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	want, err = os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

// A FIFO reads to its writer's close, as with os.ReadFile: not a regular
// file, so no short read ends it.
func TestReadFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	content := bytes.Repeat([]byte("fifo data "), 20_000)
	for _, read := range []func(string) ([]byte, error){
		func(p string) ([]byte, error) { return fs.ReadFile(p) },
		os.ReadFile,
	} {
		var wg sync.WaitGroup
		wg.Go(func() {
			w, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < len(content); i += 3000 { // in pieces: reads return short
				w.Write(content[i:min(i+3000, len(content))])
			}
			w.Close()
		})
		got, err := read(p)
		wg.Wait()
		require.NoError(t, err)
		require.True(t, bytes.Equal(content, got), "%d bytes of %d", len(got), len(content))
	}
}

// A cached file reads without the ring; one out of the page cache goes to
// the ring for what it misses, and reads the same. The evicted files are
// never read before they are dropped, so no readahead in flight can bring
// their pages back.
func TestReadFileDispatch(t *testing.T) {
	r := newRing(t)
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	readBack := func(t *testing.T, p string) {
		t.Helper()
		got, err := fs.ReadFile(p, fs.WithRing(r))
		require.NoError(t, err)
		require.True(t, bytes.Equal(content, got), "%d bytes of %d", len(got), len(content))
	}
	// cold writes a new file, evicts it, and reads its first cached bytes
	// back into the page cache (fadvise WILLNEED: only that range).
	cold := func(t *testing.T, name string, cached int64) string {
		t.Helper()
		p := filepath.Join(dir, name)
		writeFile(t, p, content)
		of, err := os.Open(p)
		require.NoError(t, err)
		defer of.Close()
		require.NoError(t, of.Sync())
		if err := unix.Fadvise(int(of.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Skipf("fadvise: %v", err)
		}
		if res, err := pagecache.Resident(of); err != nil || res > 0 {
			t.Skipf("%s keeps its pages cached (resident %.2f, %v)", dir, res, err)
		}
		if cached == 0 {
			return p
		}
		require.NoError(t, unix.Fadvise(int(of.Fd()), 0, cached, unix.FADV_WILLNEED))
		want := float64(cached) / float64(len(content))
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
			res, err := pagecache.Resident(of)
			require.NoError(t, err)
			if res >= want && res < 1 {
				return p
			}
			if res >= 1 || time.Now().After(deadline) {
				t.Skipf("could not cache part of the file (resident %.2f, want %.2f)", res, want)
			}
		}
	}

	t.Run("cached", func(t *testing.T) {
		p := filepath.Join(dir, "cached")
		writeFile(t, p, content)
		readBack(t, p)
		before := r.Stats().Submitted
		readBack(t, p)
		require.Equal(t, before, r.Stats().Submitted, "a cached file went to the ring")
	})
	// Without RWF_NOWAIT reads (tmpfs, overlayfs, FUSE) the ring would hand
	// the read to a worker thread: an evicted file is read with system
	// calls, as os reads it. Elsewhere what the page cache misses reaches
	// the ring.
	p := filepath.Join(dir, "probe")
	writeFile(t, p, content)
	noNowait := !nowaitReads(t, p)
	evictedReads := func(t *testing.T, name string, cached int64) {
		t.Helper()
		if noNowait {
			p := cold(t, name, cached)
			before := r.Stats().Submitted
			readBack(t, p)
			require.Equal(t, before, r.Stats().Submitted, "no RWF_NOWAIT reads here, yet ReadFile went to the ring")
			return
		}
		var p string
		tries := 0
		reachesRing(t, r, func() { tries++; p = cold(t, fmt.Sprintf("%s-%d", name, tries), cached) },
			func() { readBack(t, p) })
	}
	t.Run("evicted", func(t *testing.T) { evictedReads(t, "evicted", 0) })
	// Half cached: the first read returns the cached half, short of the
	// size, and the rest comes from the ring.
	t.Run("half evicted", func(t *testing.T) { evictedReads(t, "half", int64(len(content)/2)) })
}

// With a closed Ring, ReadFile still reads: what the page cache misses is
// read with read(2), as os.ReadFile does.
func TestReadFileClosedRing(t *testing.T) {
	requireUring(t)
	r, err := uring.New()
	require.NoError(t, err)
	require.NoError(t, r.Close())
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, []byte("still readable"))
	got, err := fs.ReadFile(p, fs.WithRing(r))
	sameAsOS(t, p, got, err)
}

// Many goroutines reading many files each get their own file's bytes.
func TestReadFileConcurrent(t *testing.T) {
	dir := t.TempDir()
	const files = 64
	for i := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprint(i)), bytes.Repeat([]byte{byte(i)}, 1000+i*100))
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for j := range 4 * files {
				i := (g*7 + j) % files
				got, err := fs.ReadFile(filepath.Join(dir, fmt.Sprint(i)))
				if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 1000+i*100)) {
					t.Errorf("file %d: %d bytes, %v", i, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
}
