//go:build linux

package uringpebble

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cockroachdb/errors/oserror"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/pagecache"
)

// side is one file system under comparison, with a directory of its own.
type side struct {
	name string
	fs   vfs.FS
	dir  string
}

func sides(t *testing.T) []side {
	return []side{
		{"default", vfs.Default, t.TempDir()},
		{"uring", FS(), t.TempDir()},
	}
}

// outcome renders err so that the two sides compare: the errno inside it,
// io.EOF, os.ErrClosed, or (for anything else) its text with the side's
// directory removed. Pebble's own Prefetch returns the errno 0 on success,
// which is nil here.
func outcome(err error, dir string) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, os.ErrClosed):
		return "closed"
	case errors.As(err, &errno):
		if errno == 0 {
			return "ok"
		}
		return errno.Error()
	}
	return strings.ReplaceAll(err.Error(), dir, "DIR")
}

// transcript records what a scenario's calls returned on one side.
type transcript struct {
	dir   string
	lines []string
}

func (tr *transcript) add(format string, args ...any) {
	tr.lines = append(tr.lines, fmt.Sprintf(format, args...))
}

func (tr *transcript) err(what string, err error) { tr.add("%s: %s", what, outcome(err, tr.dir)) }

func (tr *transcript) n(what string, n int, err error) {
	tr.add("%s: n=%d %s", what, n, outcome(err, tr.dir))
}

// compare runs scenario on both sides and requires the same transcript.
func compare(t *testing.T, scenario func(t *testing.T, s side, tr *transcript)) {
	t.Helper()
	var got [2]*transcript
	for i, s := range sides(t) {
		got[i] = &transcript{dir: s.dir}
		scenario(t, s, got[i])
	}
	require.NotEmpty(t, got[0].lines)
	require.Equal(t, strings.Join(got[0].lines, "\n"), strings.Join(got[1].lines, "\n"), "default (expected) vs uring (actual)")
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// asFile returns f as FS's file, failing t for anything else.
func asFile(t *testing.T, f vfs.File) *file {
	t.Helper()
	uf, ok := f.(*file)
	require.True(t, ok, "FS returned a %T, not its own file", f)
	return uf
}

// Every file FS opens is an *fs.File on the ring, and Fd is its descriptor.
func TestFilesAreRingBacked(t *testing.T) {
	_, ringErr := uring.Default()
	if ringErr != nil && !requireURing() {
		t.Skipf("io_uring unavailable, so files fall back to os: %v", ringErr)
	}
	require.NoError(t, ringErr)
	dir := t.TempDir()
	u := FS()
	p := filepath.Join(dir, "f")
	open := map[string]func() (vfs.File, error){
		"Create":        func() (vfs.File, error) { return u.Create(p, vfs.WriteCategoryUnspecified) },
		"Open":          func() (vfs.File, error) { return u.Open(p, vfs.RandomReadsOption) },
		"OpenReadWrite": func() (vfs.File, error) { return u.OpenReadWrite(p, vfs.WriteCategoryUnspecified) },
		"ReuseForWrite": func() (vfs.File, error) {
			return u.ReuseForWrite(p, filepath.Join(dir, "g"), vfs.WriteCategoryUnspecified)
		},
	}
	for _, name := range []string{"Create", "Open", "OpenReadWrite", "ReuseForWrite"} {
		f, err := open[name]()
		require.NoError(t, err, name)
		uf := asFile(t, f)
		require.True(t, uf.UsesRing(), "%s: the file does not use the ring", name)
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(int(f.Fd()), &st), name)
		fi, err := os.Stat(uf.Name())
		require.NoError(t, err)
		require.Equal(t, fi.Sys().(*syscall.Stat_t).Ino, st.Ino, "%s: Fd is not the file's descriptor", name)
		require.NoError(t, f.Close())
		require.Equal(t, vfs.InvalidFd, f.Fd(), "%s: Fd after Close", name)
		if name == "ReuseForWrite" {
			p = filepath.Join(dir, "g")
		}
	}
	require.Nil(t, u.Unwrap())
	require.Same(t, u, vfs.Root(u), "vfs.Root must stop at FS, not reach vfs.Default")
}

// Writes, syncs, preallocation, Stat and Close, on a file from Create.
func TestWriteSideMatchesDefault(t *testing.T) {
	data := testData(3<<20 + 123)
	compare(t, func(t *testing.T, s side, tr *transcript) {
		p := s.fs.PathJoin(s.dir, "f")
		f, err := s.fs.Create(p, vfs.WriteCategoryUnspecified)
		require.NoError(t, err)
		n, err := f.Write(nil)
		tr.n("Write(nil)", n, err)
		for off := 0; off < len(data); {
			chunk := min(len(data)-off, 1+off%(70<<10)) // 1 byte to 70 KiB
			n, err := f.Write(data[off : off+chunk])
			require.NoError(t, err)
			require.Equal(t, chunk, n)
			off += chunk
		}
		n, err = f.WriteAt([]byte("overwritten"), 4096)
		tr.n("WriteAt(4096)", n, err)
		n, err = f.WriteAt([]byte("past the end"), int64(len(data))+8192) // leaves a hole
		tr.n("WriteAt(past end)", n, err)
		n, err = f.WriteAt([]byte("x"), -1)
		tr.n("WriteAt(-1)", n, err)
		tr.err("Sync", f.Sync())
		tr.err("SyncData", f.SyncData())
		for _, length := range []int64{0, 1 << 20, int64(len(data))} {
			full, err := f.SyncTo(length)
			tr.add("SyncTo(%d): full=%t %s", length, full, outcome(err, s.dir))
		}
		st, err := f.Stat()
		require.NoError(t, err)
		size := st.Size()
		tr.add("Stat: name=%s size=%d mode=%v dir=%t", st.Name(), size, st.Mode(), st.IsDir())
		fi, err := vfs.Default.Stat(p)
		require.NoError(t, err)
		require.Equal(t, fi.DeviceID(), st.DeviceID(), "DeviceID")
		require.NotEqual(t, vfs.DeviceID{}, st.DeviceID())
		var before, after unix.Stat_t
		require.NoError(t, unix.Stat(p, &before))
		tr.err("Preallocate", f.Preallocate(size, 4<<20))
		st, err = f.Stat()
		require.NoError(t, err)
		require.NoError(t, unix.Stat(p, &after))
		// The 4 MiB past the end, less the partial block at the end.
		tr.add("after Preallocate: size=%d allocated=%t", st.Size(), (after.Blocks-before.Blocks)*512 >= 4<<20-8192)
		tr.err("Preallocate(-1)", f.Preallocate(-1, 10))
		tr.err("Preallocate(n=0)", f.Preallocate(0, 0))
		tr.err("Close", f.Close())
		tr.err("Close again", f.Close())
		n, err = f.Write([]byte("late"))
		tr.n("Write after Close", n, err)
		tr.add("Fd after Close: invalid=%t", f.Fd() == vfs.InvalidFd)
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		tr.add("contents: %d bytes, sha %x", len(got), fnvSum(got))
	})
}

func fnvSum(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// Reads of a file from Open: ReadAt at every kind of offset, Read to the
// end, and the calls a read-only file refuses.
func TestReadSideMatchesDefault(t *testing.T) {
	data := testData(1<<20 + 333)
	compare(t, func(t *testing.T, s side, tr *transcript) {
		p := s.fs.PathJoin(s.dir, "f")
		require.NoError(t, os.WriteFile(p, data, 0o666))
		f, err := s.fs.Open(p)
		require.NoError(t, err)
		defer f.Close()
		for _, c := range []struct{ off, n int }{
			{0, 0}, {0, 1}, {0, 4096}, {4095, 2}, {12345, 65536}, {len(data) - 10, 10},
			{len(data) - 10, 20}, {len(data), 1}, {len(data) + 100, 10}, {0, len(data) + 1},
		} {
			b := make([]byte, c.n)
			n, err := f.ReadAt(b, int64(c.off))
			tr.n(fmt.Sprintf("ReadAt(%d, %d)", c.off, c.n), n, err)
			require.Equal(t, data[min(c.off, len(data)):min(c.off+n, len(data))], b[:n])
		}
		n, err := f.ReadAt(make([]byte, 1), -1)
		tr.n("ReadAt(-1)", n, err)
		var got []byte
		for i := 0; ; i++ {
			b := make([]byte, []int{7, 4096, 65536, 1 << 20}[i%4])
			n, err := f.Read(b)
			got = append(got, b[:n]...)
			tr.n(fmt.Sprintf("Read %d", i), n, err)
			if err != nil {
				break
			}
		}
		require.True(t, bytes.Equal(data, got), "Read to the end got other bytes")
		n, err = f.Write([]byte("x"))
		tr.n("Write on O_RDONLY", n, err)
		n, err = f.WriteAt([]byte("x"), 0)
		tr.n("WriteAt on O_RDONLY", n, err)
		tr.err("Preallocate on O_RDONLY", f.Preallocate(0, 10))
		full, err := f.SyncTo(100)
		tr.add("SyncTo on O_RDONLY: full=%t %s", full, outcome(err, s.dir))
		tr.err("SyncData on O_RDONLY", f.SyncData())
		tr.err("Prefetch", f.Prefetch(0, 1<<20))
		st, err := f.Stat()
		require.NoError(t, err)
		tr.add("Stat: name=%s size=%d", st.Name(), st.Size())
		require.NoError(t, f.Close())
		n, err = f.ReadAt(make([]byte, 1), 0)
		tr.n("ReadAt after Close", n, err)
		n, err = f.Read(make([]byte, 1))
		tr.n("Read after Close", n, err)
	})
}

// Prefetch reads the range into the page cache, as Pebble's readahead does.
func TestPrefetchFillsPageCache(t *testing.T) {
	data := testData(8 << 20)
	for _, s := range sides(t) {
		t.Run(s.name, func(t *testing.T) {
			requireEvictable(t, s.dir)
			p := filepath.Join(s.dir, "f")
			require.NoError(t, os.WriteFile(p, data, 0o666))
			cold(t, p)
			f, err := s.fs.Open(p)
			require.NoError(t, err)
			defer f.Close()
			require.Equal(t, "ok", outcome(f.Prefetch(2<<20, 2<<20), s.dir))
			require.Eventually(t, func() bool { return residentRange(t, p, 2<<20, 2<<20) > 0.9 }, 5e9, 1e6,
				"Prefetch did not bring its range in")
			require.Less(t, residentRange(t, p, 6<<20, 2<<20), 0.5, "Prefetch read far beyond its range")
		})
	}
}

// The OpenOptions fadvise FS's descriptors as they do Pebble's: after
// RandomReadsOption a small read brings in no readahead; both sides leave
// the same pages cached for each option.
func TestOpenOptionsApply(t *testing.T) {
	data := testData(4 << 20)
	opts := []struct {
		name string
		opt  []vfs.OpenOption
	}{
		{"none", nil}, {"random", []vfs.OpenOption{vfs.RandomReadsOption}}, {"sequential", []vfs.OpenOption{vfs.SequentialReadsOption}},
	}
	cached := map[string]map[string]float64{}
	for _, s := range sides(t) {
		requireEvictable(t, s.dir)
		p := filepath.Join(s.dir, "f")
		require.NoError(t, os.WriteFile(p, data, 0o666))
		cached[s.name] = map[string]float64{}
		for _, o := range opts {
			for _, open := range []string{"Open", "OpenReadWrite"} {
				cold(t, p)
				var f vfs.File
				var err error
				if open == "Open" {
					f, err = s.fs.Open(p, o.opt...)
				} else {
					f, err = s.fs.OpenReadWrite(p, vfs.WriteCategoryUnspecified, o.opt...)
				}
				require.NoError(t, err)
				_, err = f.ReadAt(make([]byte, 4096), 1<<20)
				require.NoError(t, err)
				_, err = f.ReadAt(make([]byte, 4096), 1<<20+4096)
				require.NoError(t, err)
				require.NoError(t, f.Close())
				cached[s.name][open+"/"+o.name] = residentRange(t, p, 0, int64(len(data)))
			}
		}
	}
	t.Logf("page cache after two 4 KiB reads: %v", cached)
	for _, open := range []string{"Open", "OpenReadWrite"} {
		require.Less(t, cached["uring"][open+"/random"], cached["uring"][open+"/none"],
			"%s: RandomReadsOption did not stop readahead", open)
	}
	require.Equal(t, cached["default"], cached["uring"], "pages cached per option")
}

// Create replaces an existing file with a new inode (hard links keep the
// old one); OpenReadWrite creates or keeps; ReuseForWrite renames and keeps
// the contents; Open of a missing file is not-exist.
func TestOpenSemanticsMatchDefault(t *testing.T) {
	compare(t, func(t *testing.T, s side, tr *transcript) {
		j := func(name string) string { return s.fs.PathJoin(s.dir, name) }
		_, err := s.fs.Open(j("missing"))
		tr.add("Open(missing): notexist=%t", oserror.IsNotExist(err))

		write := func(text string) func(vfs.File, error) {
			return func(f vfs.File, err error) {
				require.NoError(t, err)
				_, err = f.Write([]byte(text))
				require.NoError(t, err)
				require.NoError(t, f.Sync())
				require.NoError(t, f.Close())
			}
		}
		write("first contents")(s.fs.Create(j("a"), vfs.WriteCategoryUnspecified))
		require.NoError(t, s.fs.Link(j("a"), j("a.link")))
		var before, after unix.Stat_t
		require.NoError(t, unix.Stat(j("a"), &before))
		write("second")(s.fs.Create(j("a"), vfs.WriteCategoryUnspecified))
		require.NoError(t, unix.Stat(j("a"), &after))
		tr.add("Create over a file: new inode=%t", before.Ino != after.Ino)
		for _, name := range []string{"a", "a.link"} {
			b, err := os.ReadFile(j(name))
			require.NoError(t, err)
			tr.add("%s: %q", name, b)
		}

		write("created by OpenReadWrite")(s.fs.OpenReadWrite(j("b"), vfs.WriteCategoryUnspecified))
		write("kept")(s.fs.OpenReadWrite(j("b"), vfs.WriteCategoryUnspecified))
		b, err := os.ReadFile(j("b"))
		require.NoError(t, err)
		tr.add("b: %q", b)

		write("REUSED")(s.fs.ReuseForWrite(j("b"), j("c"), vfs.WriteCategoryUnspecified))
		b, err = os.ReadFile(j("c"))
		require.NoError(t, err)
		tr.add("c: %q", b)
		_, err = os.Stat(j("b"))
		tr.add("b after ReuseForWrite: notexist=%t", oserror.IsNotExist(err))
		_, err = s.fs.ReuseForWrite(j("missing"), j("d"), vfs.WriteCategoryUnspecified)
		tr.add("ReuseForWrite(missing): notexist=%t", oserror.IsNotExist(err))

		_, err = s.fs.Create(j("nodir/x"), vfs.WriteCategoryUnspecified)
		tr.add("Create in a missing directory: notexist=%t", oserror.IsNotExist(err))
		d, err := s.fs.OpenDir(s.dir)
		require.NoError(t, err)
		tr.err("OpenDir Sync", d.Sync())
		tr.err("OpenDir Close", d.Close())
		names, err := s.fs.List(s.dir)
		require.NoError(t, err)
		tr.add("List: %d names", len(names))
	})
}

// requireEvictable skips t where FADV_DONTNEED cannot drop pages.
func requireEvictable(t *testing.T, dir string) {
	t.Helper()
	if ok, why := canEvict(dir); !ok {
		t.Skipf("page-cache effects cannot be observed: %s", why)
	}
}

// cold drops the file at p from the page cache and checks it is gone.
func cold(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, unix.Fdatasync(int(f.Fd())))
	require.NoError(t, pagecache.Drop(f))
	res, err := pagecache.Resident(f)
	require.NoError(t, err)
	require.Less(t, res, 0.01, "%s stayed in the page cache", p)
}

// residentRange is the part of n bytes at off of p in the page cache.
func residentRange(t *testing.T, p string, off, n int64) float64 {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(mem)
	vec := make([]byte, (n+4095)/4096)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0])))
	require.Zero(t, errno, "mincore")
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec))
}

// SyncTo starts the write-back of the prefix it is given, and its
// WAIT_BEFORE waits for the write-back an earlier SyncTo started: after two,
// the prefix is clean, so FADV_DONTNEED drops it (dirty pages it cannot).
func TestSyncToWritesBack(t *testing.T) {
	data := testData(8 << 20)
	for _, s := range sides(t) {
		t.Run(s.name, func(t *testing.T) {
			requireEvictable(t, s.dir)
			p := filepath.Join(s.dir, "f")
			f, err := s.fs.Create(p, vfs.WriteCategoryUnspecified)
			require.NoError(t, err)
			defer f.Close()
			_, err = f.Write(data)
			require.NoError(t, err)
			const prefix = 4 << 20
			for range 2 {
				_, err := f.SyncTo(prefix)
				require.NoError(t, err)
			}
			o, err := os.Open(p)
			require.NoError(t, err)
			defer o.Close()
			require.NoError(t, unix.Fadvise(int(o.Fd()), 0, prefix, unix.FADV_DONTNEED))
			require.Less(t, residentRange(t, p, 0, prefix), 0.1, "the synced prefix is still cached: not written back")
		})
	}
}
