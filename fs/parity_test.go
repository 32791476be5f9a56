//go:build linux

package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
)

// file is what the parity scenarios need of *os.File and *fs.File alike.
type file interface {
	io.Reader
	io.Writer
	io.ReaderAt
	io.WriterAt
	io.Seeker
	io.Closer
	io.StringWriter
	Sync() error
	Stat() (os.FileInfo, error)
	Truncate(int64) error
	Name() string
}

type opener struct {
	name string
	open func(t *testing.T, path string, flag int, perm os.FileMode) (file, error)
}

// openers returns os.OpenFile and fs.OpenFile on the ring and on the
// fallback: every scenario runs against each, and their transcripts must match.
func openers(t *testing.T) []opener {
	list := []opener{
		{"os", func(t *testing.T, p string, flag int, perm os.FileMode) (file, error) {
			f, err := os.OpenFile(p, flag, perm)
			if err != nil {
				return nil, err
			}
			return f, nil
		}},
		{"fs-fallback", func(t *testing.T, p string, flag int, perm os.FileMode) (file, error) {
			f, err := fs.OpenFile(p, flag, perm, fs.WithoutRing())
			if err != nil {
				return nil, err
			}
			return f, nil
		}},
	}
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1): %v", err)
		}
		t.Logf("io_uring unavailable, parity runs on the fallback only: %v", err)
		return list
	}
	return append(list, opener{"fs-ring", func(t *testing.T, p string, flag int, perm os.FileMode) (file, error) {
		f, err := fs.OpenFile(p, flag, perm)
		if err != nil {
			return nil, err
		}
		if st, _ := f.Stat(); st.Mode().IsRegular() {
			require.True(t, f.UsesRing(), "a regular file must go through the ring")
		}
		return f, nil
	}})
}

// transcript records what each call returned, with the path made neutral.
type transcript struct {
	dir   string
	lines []string
}

func (tr *transcript) add(format string, args ...any) {
	tr.lines = append(tr.lines, strings.ReplaceAll(fmt.Sprintf(format, args...), tr.dir, "$DIR"))
}

func (tr *transcript) call(what string, n int, err error) {
	tr.add("%s: n=%d err=%v pathErr=%v closed=%v eof=%v", what, n, err,
		isPathErr(err), errors.Is(err, os.ErrClosed), err == io.EOF)
}

func isPathErr(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

type scenario struct {
	name string
	run  func(t *testing.T, tr *transcript, o opener, dir string)
}

func writeFile(t *testing.T, p string, data []byte) {
	require.NoError(t, os.WriteFile(p, data, 0o644))
}

var scenarios = []scenario{
	{"read in small pieces to EOF", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "f")
		writeFile(t, p, []byte("hello, parity world"))
		f, err := o.open(t, p, os.O_RDONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		buf := make([]byte, 7)
		for i := 0; i < 5; i++ {
			n, err := f.Read(buf)
			tr.call("read", n, err)
			tr.add("data=%q", buf[:n])
		}
		n, err := f.Read(nil)
		tr.call("read empty buffer", n, err)
	}},
	{"zero-length file", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "empty")
		writeFile(t, p, nil)
		f, err := o.open(t, p, os.O_RDONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		n, err := f.Read(make([]byte, 8))
		tr.call("read", n, err)
		n, err = f.ReadAt(make([]byte, 8), 0)
		tr.call("readat", n, err)
		n, err = f.ReadAt(nil, 0)
		tr.call("readat empty", n, err)
	}},
	{"readat past and across EOF, negative offset", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "f")
		writeFile(t, p, []byte("0123456789"))
		f, err := o.open(t, p, os.O_RDONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		buf := make([]byte, 4)
		for _, off := range []int64{0, 8, 10, 100, -1} {
			n, err := f.ReadAt(buf, off)
			tr.call(fmt.Sprintf("readat %d", off), n, err)
			tr.add("data=%q", buf[:n])
		}
	}},
	{"write on a read-only file", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "ro")
		writeFile(t, p, []byte("x"))
		f, err := o.open(t, p, os.O_RDONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		n, err := f.Write([]byte("nope"))
		tr.call("write", n, err)
		n, err = f.WriteAt([]byte("nope"), 0)
		tr.call("writeat", n, err)
	}},
	{"write, seek, read back; writeat; sync; truncate", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "rw")
		f, err := o.open(t, p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		require.NoError(t, err)
		defer f.Close()
		n, err := f.WriteString("abcdef")
		tr.call("writestring", n, err)
		n, err = f.WriteAt([]byte("XY"), 2)
		tr.call("writeat", n, err)
		n, err = f.WriteAt([]byte("Z"), -3)
		tr.call("writeat negative", n, err)
		off, err := f.Seek(1, io.SeekStart)
		tr.add("seek: %d %v", off, err)
		buf := make([]byte, 10)
		n, err = f.Read(buf)
		tr.call("read", n, err)
		tr.add("data=%q", buf[:n])
		tr.add("sync: %v", f.Sync())
		tr.add("truncate: %v", f.Truncate(3))
		st, err := f.Stat()
		tr.add("size=%d err=%v", st.Size(), err)
		data, _ := os.ReadFile(p)
		tr.add("file=%q", data)
	}},
	{"O_APPEND", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "log")
		writeFile(t, p, []byte("one\n"))
		f, err := o.open(t, p, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.Seek(0, io.SeekStart)
		tr.add("seek: %v", err)
		n, err := f.WriteString("two\n")
		tr.call("write", n, err)
		n, err = f.WriteAt([]byte("x"), 0)
		tr.call("writeat", n, err)
		data, _ := os.ReadFile(p)
		tr.add("file=%q", data)
	}},
	{"O_EXCL on an existing file", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "exists")
		writeFile(t, p, nil)
		_, err := o.open(t, p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		tr.call("open", 0, err)
		_, err = o.open(t, filepath.Join(dir, "missing"), os.O_RDONLY, 0)
		tr.call("open missing", 0, err)
	}},
	{"use after Close", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "f")
		writeFile(t, p, []byte("data"))
		f, err := o.open(t, p, os.O_RDWR, 0)
		require.NoError(t, err)
		tr.add("close: %v", f.Close())
		n, err := f.Read(make([]byte, 4))
		tr.call("read", n, err)
		n, err = f.ReadAt(make([]byte, 4), 0)
		tr.call("readat", n, err)
		n, err = f.Write([]byte("x"))
		tr.call("write", n, err)
		n, err = f.WriteAt([]byte("x"), 0)
		tr.call("writeat", n, err)
		err = f.Close()
		tr.call("close again", 0, err)
	}},
	{"offsets beyond 4 GiB in a sparse file", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "sparse")
		f, err := o.open(t, p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		require.NoError(t, err)
		defer f.Close()
		const far = 5 << 30
		n, err := f.WriteAt([]byte("far away"), far)
		tr.call("writeat", n, err)
		buf := make([]byte, 16)
		n, err = f.ReadAt(buf, far-4)
		tr.call("readat", n, err)
		tr.add("data=%q", buf[:n])
		n, err = f.ReadAt(buf[:4], 1<<30)
		tr.call("readat hole", n, err)
		tr.add("data=%q", buf[:n])
	}},
	{"directory", func(t *testing.T, tr *transcript, o opener, dir string) {
		f, err := o.open(t, dir, os.O_RDONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		n, err := f.Read(make([]byte, 4))
		tr.call("read", n, err)
	}},
	{"/dev/null", func(t *testing.T, tr *transcript, o opener, dir string) {
		f, err := o.open(t, os.DevNull, os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		n, err := f.Write([]byte("gone"))
		tr.call("write", n, err)
		n, err = f.Read(make([]byte, 4))
		tr.call("read", n, err)
	}},
	{"directory listing, chmod, deadlines on a regular file", func(t *testing.T, tr *transcript, o opener, dir string) {
		for _, n := range []string{"b", "a", "c"} {
			writeFile(t, filepath.Join(dir, n), []byte(n))
		}
		d, err := o.open(t, dir, os.O_RDONLY, 0)
		require.NoError(t, err)
		defer d.Close()
		type lister interface {
			Readdirnames(int) ([]string, error)
			Chmod(os.FileMode) error
			SetDeadline(time.Time) error
		}
		l := d.(lister)
		names, err := l.Readdirnames(-1)
		slices.Sort(names)
		tr.add("names=%v err=%v", names, err)
		f, err := o.open(t, filepath.Join(dir, "a"), os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		fl := f.(lister)
		tr.add("chmod: %v", fl.Chmod(0o600))
		st, _ := f.Stat()
		tr.add("mode=%v", st.Mode())
		err = fl.SetDeadline(time.Now().Add(time.Second))
		tr.add("setdeadline: %v noDeadline=%v", err, errors.Is(err, os.ErrNoDeadline))
	}},
	{"pipe (FIFO): read, write, deadlines, close", func(t *testing.T, tr *transcript, o opener, dir string) {
		fifo := filepath.Join(dir, "fifo")
		require.NoError(t, unix.Mkfifo(fifo, 0o600))
		f, err := o.open(t, fifo, os.O_RDWR, 0) // O_RDWR: no wait for a peer
		require.NoError(t, err)
		n, err := f.Write([]byte("through the pipe"))
		tr.call("write", n, err)
		buf := make([]byte, 7)
		n, err = f.Read(buf)
		tr.call("read", n, err)
		tr.add("data=%q", buf[:n])
		n, err = f.ReadAt(buf, 0)
		tr.call("readat", n, err)
		_, err = f.Seek(0, io.SeekStart)
		tr.add("seek: %v", err)
		dl := f.(interface{ SetReadDeadline(time.Time) error })
		tr.add("setreaddeadline: %v", dl.SetReadDeadline(time.Now().Add(-time.Second)))
		n, err = f.Read(buf)
		tr.call("read after deadline", n, err)
		tr.add("deadline=%v", errors.Is(err, os.ErrDeadlineExceeded))
		tr.add("cleardeadline: %v", dl.SetReadDeadline(time.Time{}))
		rest := make([]byte, 64)
		n, err = f.Read(rest)
		tr.call("read rest", n, err)
		tr.add("data=%q", rest[:n])
		done := make(chan error, 1)
		go func() { _, err := f.Read(buf); done <- err }() // the pipe is empty: blocks
		time.Sleep(20 * time.Millisecond)
		tr.add("close: %v", f.Close())
		err = <-done
		tr.add("blocked read after close: %v closed=%v", err, errors.Is(err, os.ErrClosed))
	}},
	{"chown, and metadata calls after Close", func(t *testing.T, tr *transcript, o opener, dir string) {
		p := filepath.Join(dir, "f")
		writeFile(t, p, []byte("x"))
		f, err := o.open(t, p, os.O_RDWR, 0)
		require.NoError(t, err)
		type meta interface {
			Chown(int, int) error
			Chmod(os.FileMode) error
		}
		m := f.(meta)
		tr.add("chown self: %v", m.Chown(os.Getuid(), os.Getgid()))
		tr.add("chown keep: %v", m.Chown(-1, -1))
		require.NoError(t, f.Close())
		tr.add("chown closed: %v", m.Chown(os.Getuid(), os.Getgid()))
		tr.add("chmod closed: %v", m.Chmod(0o600))
		_, err = f.Stat()
		tr.add("stat closed: %v", err)
		tr.add("truncate closed: %v", f.Truncate(0))
		tr.add("sync closed: %v", f.Sync())
	}},
	{"O_TMPFILE", func(t *testing.T, tr *transcript, o opener, dir string) {
		f, err := o.open(t, dir, os.O_RDWR|unix.O_TMPFILE, 0o600)
		if err != nil {
			tr.call("open", 0, err)
			return
		}
		defer f.Close()
		n, err := f.Write([]byte("anonymous"))
		tr.call("write", n, err)
		buf := make([]byte, 16)
		n, err = f.ReadAt(buf, 0)
		tr.call("readat", n, err)
		tr.add("data=%q", buf[:n])
		entries, _ := os.ReadDir(dir)
		tr.add("visible entries=%d", len(entries))
	}},
	{"/proc file", func(t *testing.T, tr *transcript, o opener, dir string) {
		f, err := o.open(t, "/proc/sys/kernel/ostype", os.O_RDONLY, 0)
		if err != nil {
			tr.call("open", 0, err)
			return
		}
		defer f.Close()
		data, err := io.ReadAll(f)
		tr.add("readall=%q err=%v", data, err)
	}},
}

// TestParity runs each scenario on os.File, on fs.File over the ring and on
// fs.File's fallback, and requires the same transcript from each.
func TestParity(t *testing.T) { runScenarios(t, scenarios) }

// runScenarios runs each scenario on every opener and requires the
// transcripts of fs.File to equal os.File's.
func runScenarios(t *testing.T, scs []scenario) {
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			var want []string
			for _, o := range openers(t) {
				dir := t.TempDir()
				tr := &transcript{dir: dir}
				sc.run(t, tr, o, dir)
				if want == nil {
					want = tr.lines
					continue
				}
				require.Equal(t, want, tr.lines, "%s differs from os", o.name)
			}
			t.Log("transcript:\n" + strings.Join(want, "\n"))
		})
	}
}

func TestIOTestReader(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, content)
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			f, err := o.open(t, p, os.O_RDONLY, 0)
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, iotest.TestReader(f, content))
			_, err = f.Seek(0, io.SeekStart)
			require.NoError(t, err)
			got, err := io.ReadAll(iotest.OneByteReader(f))
			require.NoError(t, err)
			require.Equal(t, content, got)
			_, err = f.Seek(0, io.SeekStart)
			require.NoError(t, err)
			got, err = io.ReadAll(iotest.HalfReader(f))
			require.NoError(t, err)
			require.Equal(t, content, got)
			_, err = f.Seek(0, io.SeekStart)
			require.NoError(t, err)
			got, err = io.ReadAll(iotest.DataErrReader(f))
			require.NoError(t, err)
			require.Equal(t, content, got)
		})
	}
}

func TestReadFileWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	data := bytes.Repeat([]byte("z"), 100_000)
	require.NoError(t, fs.WriteFile(p, data, 0o600))
	got, err := fs.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, data, got)
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	_, err = fs.ReadFile(filepath.Join(dir, "missing"))
	_, osErr := os.ReadFile(filepath.Join(dir, "missing"))
	require.Equal(t, osErr.Error(), err.Error())
	got, err = fs.ReadFile("/proc/self/stat")
	require.NoError(t, err)
	require.NotEmpty(t, got)
}

// io.Copy between files (ReadFrom's file-to-file path) and from a plain
// reader (the ring path) give the same bytes and counts as os.
func TestCopyParity(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	content := bytes.Repeat([]byte("copy me "), 100_000)
	writeFile(t, src, content)
	in, err := fs.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := fs.Create(filepath.Join(dir, "dst"))
	require.NoError(t, err)
	defer out.Close()
	_, err = in.Seek(8, io.SeekStart) // copies start at the source's offset, as with os
	require.NoError(t, err)
	n, err := io.Copy(out, in)
	require.NoError(t, err)
	require.Equal(t, int64(len(content)-8), n)
	got, err := os.ReadFile(filepath.Join(dir, "dst"))
	require.NoError(t, err)
	require.Equal(t, content[8:], got)

	n, err = out.ReadFrom(bytes.NewReader([]byte("tail")))
	require.NoError(t, err)
	require.Equal(t, int64(4), n)
	got, _ = os.ReadFile(filepath.Join(dir, "dst"))
	require.Equal(t, append(content[8:], "tail"...), got)

	require.NoError(t, in.Close())
	_, err = out.ReadFrom(in)
	require.ErrorIs(t, err, os.ErrClosed)
}
