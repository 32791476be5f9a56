//go:build linux

package uring_test

// Benchmarks of package fs against package os (and C liburing where the
// device is the limit), with the harness of bench_test.go: same-run ratios.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
	"github.com/goaio/uring/internal/pagecache"
)

// readerAts measures ReadAt of random blocks from n goroutines on f.
func readerAts(name string, f io.ReaderAt, n int) contender {
	return contender{fmt.Sprintf("%s.ReadAt x%d", name, n), func(d time.Duration) (tally, error) {
		return goLoop(n, d, func(i int) func() error {
			buf, rnd := alignedBlock(), newBenchRand(i+7000)
			return func() error {
				got, err := f.ReadAt(buf, rnd.block())
				if err != nil {
					return err
				}
				if got != benchBlock {
					return errShortRead
				}
				return nil
			}
		})
	}}
}

func openFS(tb testing.TB, path string, flag int) *fs.File {
	f, err := fs.OpenFile(path, flag, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if !f.UsesRing() {
		tb.Fatal("fs.File is not on the ring")
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkFSReadAtWarm64: fs.File.ReadAt against os.File.ReadAt, C
// liburing with a ring per core, and Ring.Do(ops.Read) on the fs.File's
// ring: 4 KiB random reads of a cached 1 GiB file from 64 goroutines.
func BenchmarkFSReadAtWarm64(b *testing.B) { benchFSWarm(b, readWorkers) }

// BenchmarkFSReadAtWarm1 is BenchmarkFSReadAtWarm64 from one goroutine,
// against C at queue depth 1.
func BenchmarkFSReadAtWarm1(b *testing.B) { benchFSWarm(b, 1) }

func benchFSWarm(b *testing.B, n int) {
	benchRequireRing(b)
	d := benchDuration(b)
	path := benchFile(b, benchDir())
	fd := openFd(b, path, 0)
	cc := cReaders(fd, n)
	if n > 1 {
		cc = cRings(fd, n)
	}
	ring, err := uring.Default() // the fs.File's own
	if err != nil {
		b.Fatal(err)
	}
	t := compare(b, d, readerAts("fs.File", openFS(b, path, os.O_RDONLY), n),
		readerAts("os.File", openFile(b, path, 0), n), cc, ringReaders(ring, fd, n))
	report(b, t[0].rate(), "IOPS")
	report(b, t[1].rate(), "os-IOPS")
	report(b, t[2].rate(), "C-IOPS")
	report(b, t[0].rate()/t[1].rate(), "xOS")
	report(b, t[0].rate()/t[2].rate(), "xC")
	report(b, t[0].rate()/t[3].rate(), "xDo")
}

// BenchmarkFSReadAtCold64 is BenchmarkFSReadAtWarm64 on a file kept out of
// the page cache (POSIX_FADV_DONTNEED before each run and every 100 ms),
// against os.File and C liburing at queue depth 64: buffered reads that go
// to the device, where os blocks a thread per read.
func BenchmarkFSReadAtCold64(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	path := benchFile(b, directDir(b)) // a real device: tmpfs cannot drop pages
	fd := openFd(b, path, 0)
	cold := func(c contender) contender {
		return contender{c.name, func(d time.Duration) (tally, error) {
			stop := keepCold(b, path)
			defer stop()
			return c.run(d)
		}}
	}
	t := compare(b, d, cold(readerAts("fs.File", openFS(b, path, os.O_RDONLY), readWorkers)),
		cold(readerAts("os.File", openFile(b, path, 0), readWorkers)), cold(cReaders(fd, readWorkers)))
	report(b, t[0].rate(), "IOPS")
	report(b, t[1].rate(), "os-IOPS")
	report(b, t[2].rate(), "C-IOPS")
	report(b, t[0].rate()/t[1].rate(), "xOS")
	report(b, t[0].rate()/t[2].rate(), "xC")
	// The warm benchmarks that follow need the file back in the cache.
	b.Cleanup(func() { warmFile(b, path) })
}

// keepCold keeps path out of the page cache until stop (pagecache.KeepCold),
// skipping the benchmark where that cannot be done.
func keepCold(b *testing.B, path string) (stop func()) {
	// fadvise(DONTNEED) drops only clean pages.
	if f, err := os.Open(path); err == nil {
		f.Sync()
		f.Close()
	}
	stop, err := pagecache.KeepCold(path)
	var skip *pagecache.SkipError
	if errors.As(err, &skip) {
		b.Skip(skip.Reason)
	}
	if err != nil {
		b.Fatal(err)
	}
	return stop
}

// warmFile reads path whole, so its pages are cached again.
func warmFile(tb testing.TB, path string) {
	f, err := os.Open(path)
	if err != nil {
		tb.Error(err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		tb.Error(err)
	}
}

// BenchmarkFSReadAtDirect64: the same with O_DIRECT, against os.File and C
// liburing at queue depth 64.
func BenchmarkFSReadAtDirect64(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	path := benchFile(b, directDir(b))
	fd := openFd(b, path, syscall.O_DIRECT)
	t := compare(b, d, readerAts("fs.File", openFS(b, path, os.O_RDONLY|syscall.O_DIRECT), readWorkers),
		readerAts("os.File", openFile(b, path, syscall.O_DIRECT), readWorkers), cReaders(fd, readWorkers))
	report(b, t[0].rate(), "IOPS")
	report(b, t[0].rate()/t[1].rate(), "xOS")
	report(b, t[0].rate()/t[2].rate(), "xC")
}

// passes measures whole passes of run (bytes per pass) for at least d.
func passes(name string, run func() (int64, error)) contender {
	return contender{name, func(d time.Duration) (tally, error) {
		t0 := time.Now()
		var total int64
		for time.Since(t0) < d || total == 0 {
			n, err := run()
			if err != nil {
				return tally{}, err
			}
			total += n
		}
		return tally{ops: uint64(total), elapsed: time.Since(t0)}, nil
	}}
}

// BenchmarkFSSequentialRead: io.Copy(io.Discard, f) over the cached 1 GiB
// file, fs against os; the rate is bytes per second.
func BenchmarkFSSequentialRead(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	path := benchFile(b, benchDir())
	copyAll := func(open func() (io.ReadCloser, error)) func() (int64, error) {
		return func() (int64, error) {
			f, err := open()
			if err != nil {
				return 0, err
			}
			defer f.Close()
			return io.Copy(io.Discard, f)
		}
	}
	t := compare(b, d,
		passes("fs io.Copy", copyAll(func() (io.ReadCloser, error) { return fs.Open(path) })),
		passes("os io.Copy", copyAll(func() (io.ReadCloser, error) { return os.Open(path) })))
	report(b, t[0].rate()/1e6, "MB/s")
	report(b, t[1].rate()/1e6, "os-MB/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// BenchmarkFSCopyFile: io.Copy of the 1 GiB file, fs to fs against os to os.
func BenchmarkFSCopyFile(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	src := benchFile(b, benchDir())
	dst := filepath.Join(b.TempDir(), "copy")
	t := compare(b, d,
		passes("fs->fs io.Copy", func() (int64, error) {
			in, err := fs.Open(src)
			if err != nil {
				return 0, err
			}
			defer in.Close()
			out, err := fs.Create(dst)
			if err != nil {
				return 0, err
			}
			defer out.Close()
			return io.Copy(out, in)
		}),
		passes("os->os io.Copy", func() (int64, error) {
			in, err := os.Open(src)
			if err != nil {
				return 0, err
			}
			defer in.Close()
			out, err := os.Create(dst)
			if err != nil {
				return 0, err
			}
			defer out.Close()
			return io.Copy(out, in)
		}))
	report(b, t[0].rate()/1e6, "MB/s")
	report(b, t[1].rate()/1e6, "os-MB/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// BenchmarkFSReadFile10k: ReadFile of 10,000 cached 4 KiB files from 64
// goroutines, fs against os.
func BenchmarkFSReadFile10k(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := b.TempDir()
	const files = 10_000
	names := make([]string, files)
	block := make([]byte, 4096)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(names[i], block, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	readers := func(name string, read func(string) ([]byte, error)) contender {
		return contender{name, func(d time.Duration) (tally, error) {
			return goLoop(readWorkers, d, func(i int) func() error {
				rnd := newBenchRand(i + 9000)
				return func() error {
					data, err := read(names[rnd.block()/benchBlock%files])
					if err == nil && len(data) != 4096 {
						err = errShortRead
					}
					return err
				}
			})
		}}
	}
	t := compare(b, d, readers("fs.ReadFile", func(p string) ([]byte, error) { return fs.ReadFile(p) }),
		readers("os.ReadFile", os.ReadFile))
	report(b, t[0].rate(), "files/s")
	report(b, t[1].rate(), "os-files/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// BenchmarkFSReadFiles10k: the same 10,000 cached 4 KiB files read by one
// goroutine, fs.ReadFiles (1,000 paths per call: four submissions) against an
// os.ReadFile loop.
func BenchmarkFSReadFiles10k(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := b.TempDir()
	const files, perCall = 10_000, 1_000
	names := make([]string, files)
	block := make([]byte, 4096)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(names[i], block, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	t := compare(b, d,
		passes("fs.ReadFiles", func() (int64, error) {
			for i := 0; i < files; i += perCall {
				datas, errs := fs.ReadFiles(ctx, names[i:i+perCall])
				for j, err := range errs {
					if err != nil {
						return 0, err
					}
					if len(datas[j]) != len(block) {
						return 0, errShortRead
					}
				}
			}
			return files, nil
		}),
		passes("os.ReadFile loop", func() (int64, error) {
			for _, n := range names {
				data, err := os.ReadFile(n)
				if err != nil {
					return 0, err
				}
				if len(data) != len(block) {
					return 0, errShortRead
				}
			}
			return files, nil
		}))
	report(b, t[0].rate(), "files/s")
	report(b, t[1].rate(), "os-files/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// streamPass copies 64 MiB arriving on a pipe or a loopback TCP connection
// into a file opened by create: io.Copy takes ReadFrom's splice path for fs.
func streamPass(b *testing.B, network string, create func(string) (io.WriteCloser, error)) func() (int64, error) {
	payload := make([]byte, 1<<20)
	dst := filepath.Join(b.TempDir(), "dst")
	const total = 64 << 20
	return func() (int64, error) {
		var src io.ReadCloser
		var feed io.WriteCloser
		switch network {
		case "pipe":
			pr, pw, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			src, feed = pr, pw
		default:
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return 0, err
			}
			defer ln.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return 0, err
			}
			s, err := ln.Accept()
			if err != nil {
				return 0, err
			}
			src, feed = s, c
		}
		defer src.Close()
		go func() {
			for i := 0; i < total/len(payload); i++ {
				if _, err := feed.Write(payload); err != nil {
					break
				}
			}
			feed.Close()
		}()
		out, err := create(dst)
		if err != nil {
			return 0, err
		}
		defer out.Close()
		return io.Copy(out, src)
	}
}

// BenchmarkFSPipeToFile and BenchmarkFSSocketToFile: io.Copy from a pipe or
// a TCP connection into a file, fs (splice(2) from a pipe) against os
// (a read/write loop for pipes, splice(2) for sockets).
func BenchmarkFSPipeToFile(b *testing.B)   { benchStreamToFile(b, "pipe") }
func BenchmarkFSSocketToFile(b *testing.B) { benchStreamToFile(b, "tcp") }

func benchStreamToFile(b *testing.B, network string) {
	benchRequireRing(b)
	d := benchDuration(b)
	t := compare(b, d,
		passes("fs.File", streamPass(b, network, func(p string) (io.WriteCloser, error) { return fs.Create(p) })),
		passes("os.File", streamPass(b, network, func(p string) (io.WriteCloser, error) { return os.Create(p) })))
	report(b, t[0].rate()/1e6, "MB/s")
	report(b, t[1].rate()/1e6, "os-MB/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// BenchmarkFSWriteAt1: 4 KiB WriteAt into the page cache (a 64 MiB region,
// overwritten at random) from one goroutine, fs against os.
func BenchmarkFSWriteAt1(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := b.TempDir()
	writers := func(name string, f io.WriterAt) contender {
		return contender{name + ".WriteAt x1", func(d time.Duration) (tally, error) {
			return goLoop(1, d, func(i int) func() error {
				buf, rnd := alignedBlock(), newBenchRand(i+11000)
				return func() error {
					_, err := f.WriteAt(buf, rnd.block()%(64<<20))
					return err
				}
			})
		}}
	}
	ours, theirs := createPair(b, dir)
	t := compare(b, d, writers("fs.File", ours), writers("os.File", theirs))
	report(b, t[0].rate(), "IOPS")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// createPair creates the files "fs" (an fs.File) and "os" (an os.File) in
// dir, closed when b ends.
func createPair(b *testing.B, dir string) (*fs.File, *os.File) {
	ours, err := fs.Create(filepath.Join(dir, "fs"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ours.Close() })
	theirs, err := os.Create(filepath.Join(dir, "os"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { theirs.Close() })
	return ours, theirs
}

// BenchmarkFSAppendSync: a write-ahead log's shape, 4 KiB appends with an
// fdatasync every 16, from one goroutine, fs against os.
func BenchmarkFSAppendSync(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := b.TempDir()
	type syncWriter interface {
		io.Writer
		Sync() error
		Truncate(int64) error
		Seek(int64, int) (int64, error)
	}
	appender := func(name string, f syncWriter) contender {
		return contender{name + " append+sync", func(d time.Duration) (tally, error) {
			return goLoop(1, d, func(int) func() error {
				buf, n := alignedBlock(), 0
				return func() error {
					if n%4096 == 0 { // keep the log at 16 MiB
						if err := f.Truncate(0); err != nil {
							return err
						}
						if _, err := f.Seek(0, io.SeekStart); err != nil {
							return err
						}
					}
					n++
					if _, err := f.Write(buf); err != nil {
						return err
					}
					if n%16 == 0 {
						return f.Sync()
					}
					return nil
				}
			})
		}}
	}
	ours, theirs := createPair(b, dir)
	t := compare(b, d, appender("fs.File", ours), appender("os.File", theirs))
	report(b, t[0].rate(), "writes/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}

// BenchmarkFSReadDir: open a directory of 1,000 entries, ReadDir(-1) it and
// close it, fs against os.
func BenchmarkFSReadDir(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := b.TempDir()
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("e%04d", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	type dirReader interface {
		ReadDir(int) ([]os.DirEntry, error)
		Close() error
	}
	lister := func(name string, open func() (dirReader, error)) contender {
		return contender{name + " ReadDir", func(d time.Duration) (tally, error) {
			return goLoop(1, d, func(int) func() error {
				return func() error {
					f, err := open()
					if err != nil {
						return err
					}
					defer f.Close()
					ents, err := f.ReadDir(-1)
					if err == nil && len(ents) != 1000 {
						err = fmt.Errorf("ReadDir: %d entries, want 1000", len(ents))
					}
					return err
				}
			})
		}}
	}
	t := compare(b, d,
		lister("fs", func() (dirReader, error) { return fs.Open(dir) }),
		lister("os", func() (dirReader, error) { return os.Open(dir) }))
	report(b, t[0].rate(), "dirs/s")
	report(b, t[0].rate()/t[1].rate(), "xOS")
}
