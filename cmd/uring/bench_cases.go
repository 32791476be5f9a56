package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
	"github.com/goaio/uring/internal/loopback"
	"github.com/goaio/uring/internal/loopload"
	"github.com/goaio/uring/loop"
	"github.com/goaio/uring/ops"
)

// benchEnv is the workload the suite creates for itself.
type benchEnv struct {
	dir        string // where the data lives (--dir), removed at the end
	size       int64  // the data file's size (--size)
	goroutines int
	ring       *uring.Ring // nil: io_uring unavailable, std side only
	// server is the running case's server in its child process (echo,
	// http), whose CPU and threads the samples count; nil: this process.
	server *loopback.Child

	data  string   // the data file
	small []string // the many small files
}

// benchCase is one workload, measured on the ring and on std.
type benchCase struct {
	name string
	what string
	unit string // what an op is: "op", "B"
	solo bool   // one goroutine (sequential copy)
	// window: the ring side's ops run on package loop's loops, not in the
	// goroutines, which only count them every loopWindow: it has no
	// latency figures.
	window bool
	setup  func(e *benchEnv) error
	ring   func(e *benchEnv) (newStep func(i int) (step, error), cleanup func(), err error)
	std    func(e *benchEnv) (newStep func(i int) (step, error), cleanup func(), err error)
}

// errSkip marks a case this machine cannot run (O_DIRECT on tmpfs, or a
// cold cache there).
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

var benchCases = []benchCase{
	{name: "nop", what: "a round trip through the kernel: Ring.Do(Nop) against getppid(2)", unit: "op",
		ring: func(e *benchEnv) (func(int) (step, error), func(), error) {
			return func(int) (step, error) {
				return func() (uint64, error) { _, err := e.ring.Do(context.Background(), ops.Nop()); return 1, err }, nil
			}, func() {}, nil
		},
		std: func(e *benchEnv) (func(int) (step, error), func(), error) {
			return func(int) (step, error) {
				return func() (uint64, error) { syscall.Getppid(); return 1, nil }, nil
			}, func() {}, nil
		}},
	{name: "randread", what: "4 KiB random reads of the warm data file: fs.File.ReadAt against os.File.ReadAt", unit: "op",
		setup: makeData,
		ring:  readers(func(p string) (io.ReaderAt, io.Closer, error) { f, err := fs.Open(p); return f, f, err }, false),
		std:   readers(func(p string) (io.ReaderAt, io.Closer, error) { f, err := os.Open(p); return f, f, err }, false)},
	{name: "direct", what: "4 KiB random O_DIRECT reads of the data file (the device, not the cache)", unit: "op",
		setup: makeData,
		ring: readers(func(p string) (io.ReaderAt, io.Closer, error) {
			f, err := fs.OpenFile(p, os.O_RDONLY|oDirect, 0)
			return f, f, err
		}, true),
		std: readers(func(p string) (io.ReaderAt, io.Closer, error) {
			f, err := os.OpenFile(p, os.O_RDONLY|oDirect, 0)
			return f, f, err
		}, true)},
	{name: "cold", what: "4 KiB random buffered reads of the data file kept out of the page cache (fadvise DONTNEED before and every 100 ms during each side): fs.File.ReadAt against os.File.ReadAt", unit: "op",
		setup: makeColdData,
		ring:  coldReaders(func(p string) (io.ReaderAt, io.Closer, error) { f, err := fs.Open(p); return f, f, err }),
		std:   coldReaders(func(p string) (io.ReaderAt, io.Closer, error) { f, err := os.Open(p); return f, f, err })},
	{name: "smallfiles", what: "whole 4 KiB files: fs.ReadFile against os.ReadFile", unit: "op",
		setup: makeSmall,
		ring:  fileReaders(func(p string) ([]byte, error) { return fs.ReadFile(p) }),
		std:   fileReaders(os.ReadFile)},
	{name: "copy", what: "sequential copy of the data file with io.Copy: fs to fs against os to os", unit: "B", solo: true,
		setup: makeData,
		ring:  copyPasses(func(p string) (*fs.File, error) { return fs.Open(p) }, func(p string) (*fs.File, error) { return fs.Create(p) }),
		std:   copyPasses(os.Open, os.Create)},
	{name: "echo", what: "128-byte TCP ping-pong with a loopback echo server in a child process (CPU/op and threads are the server's): this package's net against std's", unit: "op",
		ring: echo("uring"), std: echo("std")},
	{name: "http", what: `net/http "hello" served by a child process on a loopback listener (CPU/op and threads are the server's): this package's net against std's`, unit: "op",
		ring: httpHello("uring"), std: httpHello("std")},
	{name: "loop-echo", what: "the echo case's clients against package loop's echo server (event loops owning their io_uring) in a child process, against std's", unit: "op",
		ring: echo("loop"), std: echo("std")},
	{name: "loop-http", what: `the http case's clients against package loop's "hello" responder in a child process, against std's net/http`, unit: "op",
		ring: httpHello("loop"), std: httpHello("std")},
	{name: "loop-nop", what: "NOPs submitted from package loop's callbacks, 256 in flight across GOMAXPROCS loops, against getppid(2) from the goroutines", unit: "op", window: true,
		ring: loopLoad(func(g *loop.Group, e *benchEnv) (*loopload.Load, func(), error) {
			ld, err := loopload.Nops(g, 256)
			return ld, func() {}, err
		}),
		std: func(e *benchEnv) (func(int) (step, error), func(), error) {
			return func(int) (step, error) {
				return func() (uint64, error) { syscall.Getppid(); return 1, nil }, nil
			}, func() {}, nil
		}},
	{name: "loop-randread", what: "4 KiB random reads of the warm data file from package loop's callbacks, 64 in flight across GOMAXPROCS loops, against os.File.ReadAt from the goroutines", unit: "op", window: true,
		setup: makeData,
		ring: loopLoad(func(g *loop.Group, e *benchEnv) (*loopload.Load, func(), error) {
			f, err := os.Open(e.data)
			if err != nil {
				return nil, nil, err
			}
			ld, err := loopload.Reads(g, int(f.Fd()), e.size, 64)
			return ld, func() { f.Close() }, err
		}),
		std: readers(func(p string) (io.ReaderAt, io.Closer, error) { f, err := os.Open(p); return f, f, err }, false)},
}

// loopWindow is how often a window case's first goroutine counts the ops
// the loops completed.
const loopWindow = 2 * time.Millisecond

// loopLoad runs start's load on a new Group of GOMAXPROCS loops. The first
// goroutine's step counts the ops done every loopWindow; the others only
// wait.
func loopLoad(start func(g *loop.Group, e *benchEnv) (*loopload.Load, func(), error)) func(e *benchEnv) (func(int) (step, error), func(), error) {
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		g, err := loop.NewGroup()
		if err != nil {
			return nil, nil, err
		}
		if why := g.Fallback(); why != nil {
			g.Close()
			return nil, nil, why
		}
		ld, done, err := start(g, e)
		if err != nil {
			if done != nil {
				done()
			}
			g.Close()
			return nil, nil, err
		}
		cleanup := func() {
			_ = ld.Stop()
			g.Close()
			done()
		}
		return func(i int) (step, error) {
			if i > 0 {
				return func() (uint64, error) { time.Sleep(loopWindow); return 0, nil }, nil
			}
			var last uint64
			started := false
			return func() (uint64, error) {
				if !started { // the ops before the measurement began do not count
					last, started = ld.Done(), true
				}
				time.Sleep(loopWindow)
				n := ld.Done()
				k := n - last
				last = n
				return k, nil
			}, nil
		}, cleanup, nil
	}
}

// makeData writes the data file once and warms the page cache with it on
// every call: a cold case before may have dropped it.
func makeData(e *benchEnv) error {
	if e.data == "" {
		if err := writeData(e); err != nil {
			return err
		}
	}
	f, err := os.Open(e.data)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// makeColdData writes the data file once and syncs it: fadvise(DONTNEED)
// does not drop dirty pages.
func makeColdData(e *benchEnv) error {
	if e.data == "" {
		if err := writeData(e); err != nil {
			return err
		}
	}
	f, err := os.Open(e.data)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func writeData(e *benchEnv) error {
	p := filepath.Join(e.dir, "data")
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	for left := e.size; left > 0; left -= int64(len(buf)) {
		_, _ = r.Read(buf)
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	e.data = p
	return nil
}

// makeSmall writes 2,000 files of 4 KiB.
func makeSmall(e *benchEnv) error {
	if e.small != nil {
		return nil
	}
	dir := filepath.Join(e.dir, "small")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	content := bytes.Repeat([]byte("uring bench\n"), 4096/12+1)[:4096]
	for i := range 2000 {
		p := filepath.Join(dir, fmt.Sprintf("f%04d", i))
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return err
		}
		e.small = append(e.small, p)
	}
	return nil
}

// readers reads random 4 KiB blocks of the data file, one shared open file.
func readers(open func(string) (io.ReaderAt, io.Closer, error), direct bool) func(e *benchEnv) (func(int) (step, error), func(), error) {
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		if direct && oDirect == 0 {
			return nil, nil, errSkip{"no O_DIRECT on " + runtime.GOOS}
		}
		ra, c, err := open(e.data)
		if err != nil {
			if direct && errors.Is(err, syscall.EINVAL) {
				return nil, nil, errSkip{"O_DIRECT is not supported on " + e.dir + " (tmpfs?): use --dir on a disk"}
			}
			return nil, nil, err
		}
		blocks := e.size / 4096
		return func(i int) (step, error) {
			buf := fs.AlignedBuffer(4096, 4096)
			r := rand.New(rand.NewPCG(uint64(i), 7))
			return func() (uint64, error) {
				_, err := ra.ReadAt(buf, r.Int64N(blocks)*4096)
				return 1, err
			}, nil
		}, func() { c.Close() }, nil
	}
}

// coldReaders is readers on the data file kept out of the page cache:
// keepCold drops its pages before the side's measurement and every
// pagecache.DropEvery during it, so most reads go to the device.
func coldReaders(open func(string) (io.ReaderAt, io.Closer, error)) func(e *benchEnv) (func(int) (step, error), func(), error) {
	buffered := readers(open, false)
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		newStep, cleanup, err := buffered(e)
		if err != nil {
			return nil, nil, err
		}
		stop, err := keepCold(e.data)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		return newStep, func() { stop(); cleanup() }, nil
	}
}

// fileReaders reads the small files round-robin.
func fileReaders(read func(string) ([]byte, error)) func(e *benchEnv) (func(int) (step, error), func(), error) {
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		return func(i int) (step, error) {
			next := i * 97
			return func() (uint64, error) {
				next++
				_, err := read(e.small[next%len(e.small)])
				return 1, err
			}, nil
		}, func() {}, nil
	}
}

// copyPasses copies the whole data file per step; it counts bytes.
func copyPasses[F io.ReadWriteCloser](open, create func(string) (F, error)) func(e *benchEnv) (func(int) (step, error), func(), error) {
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		dst := filepath.Join(e.dir, "copy")
		return func(int) (step, error) {
			return func() (uint64, error) {
				in, err := open(e.data)
				if err != nil {
					return 0, err
				}
				defer in.Close()
				out, err := create(dst)
				if err != nil {
					return 0, err
				}
				n, err := io.Copy(out, in)
				if cerr := out.Close(); err == nil {
					err = cerr
				}
				return uint64(n), err
			}, nil
		}, func() { os.Remove(dst) }, nil
	}
}

// echo starts stack's echo server ("uring" or "std") in a child process;
// each goroutine keeps one std client connection doing 128-byte round trips.
func echo(stack string) func(e *benchEnv) (func(int) (step, error), func(), error) {
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		srv, err := e.startServer(stack + "-echo")
		if err != nil {
			return nil, nil, err
		}
		var conns []net.Conn
		newStep := func(int) (step, error) {
			c, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
			msg, in := bytes.Repeat([]byte{'x'}, 128), make([]byte, 128)
			return func() (uint64, error) {
				if _, err := c.Write(msg); err != nil {
					return 0, err
				}
				_, err := io.ReadFull(c, in)
				return 1, err
			}, nil
		}
		return newStep, func() {
			for _, c := range conns {
				c.Close()
			}
			e.stopServer()
		}, nil
	}
}

// httpHello starts stack's net/http "hello" server in a child process; each
// goroutine GETs it over keep-alive connections.
func httpHello(stack string) func(e *benchEnv) (func(int) (step, error), func(), error) {
	return func(e *benchEnv) (func(int) (step, error), func(), error) {
		srv, err := e.startServer(stack + "-http")
		if err != nil {
			return nil, nil, err
		}
		tr := &http.Transport{MaxIdleConnsPerHost: e.goroutines, MaxConnsPerHost: e.goroutines}
		client := &http.Client{Transport: tr}
		url := "http://" + srv.Addr + "/"
		return func(int) (step, error) {
				return func() (uint64, error) {
					resp, err := client.Get(url)
					if err != nil {
						return 0, err
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return 1, err
				}, nil
			}, func() {
				tr.CloseIdleConnections()
				e.stopServer()
			}, nil
	}
}

// startServer starts role's loopback server in a child process, which the
// side's samples then measure (its CPU and threads) instead of this one.
func (e *benchEnv) startServer(role string) (*loopback.Child, error) {
	srv, err := loopback.StartChild(role)
	if err != nil {
		return nil, err
	}
	e.server = srv
	return srv, nil
}

func (e *benchEnv) stopServer() {
	if e.server != nil {
		_ = e.server.Stop()
		e.server = nil
	}
}
