// Package loopload keeps operations in flight from package loop's
// callbacks, for uring bench's loop-nop and loop-randread and the Go
// benchmarks that compare them with C liburing: each completion's callback
// counts it and submits the next op on the same loop.
package loopload

import (
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/goaio/uring"
	"github.com/goaio/uring/loop"
	"github.com/goaio/uring/ops"
)

// Load is ops kept in flight across a Group's loops.
type Load struct {
	g     *loop.Group
	files bool // Reads registered its file with each loop: Stop drops it
	per   []*counter
	wg    sync.WaitGroup
	stopd atomic.Bool
	err   atomic.Pointer[error]
}

// counter is one loop's completions, on its own cache line.
type counter struct {
	n atomic.Uint64
	_ [56]byte
}

// Done returns the ops completed so far.
func (ld *Load) Done() uint64 {
	var n uint64
	for _, c := range ld.per {
		n += c.n.Load()
	}
	return n
}

// Stop stops submitting, waits for the ops in flight and returns the first
// error an op reported.
func (ld *Load) Stop() error {
	ld.stopd.Store(true)
	ld.wg.Wait()
	if ld.files {
		for _, l := range ld.g.Loops() {
			done := make(chan error, 1)
			if l.Run(func() { done <- l.UnregisterFiles() }) == nil {
				if err := <-done; err != nil {
					ld.fail(err)
				}
			}
		}
	}
	if p := ld.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Nops keeps inflight NOPs in flight across g's loops.
func Nops(g *loop.Group, inflight int) (*Load, error) {
	return start(g, inflight, submitted(func(int) func() ops.Op { return ops.Nop }))
}

// Reads keeps inflight random 4 KiB reads of fd's first size bytes in
// flight across g's loops, each into its own page of the loop's memory
// (Loop.Alloc: not pinned per read, and page-aligned, as C's
// posix_memalign buffers are), fd registered with each loop (no reference
// taken per read). Stop before Group.Close: the loops keep fd registered.
func Reads(g *loop.Group, fd int, size int64, inflight int) (*Load, error) {
	blocks := size / 4096
	pages, err := loopPages(g, inflight, func(l *loop.Loop) error { return l.RegisterFiles([]int{fd}) })
	if err != nil {
		return nil, err
	}
	ld, err := start(g, inflight, submitted(func(i int) func() ops.Op {
		buf, rng := pages(i), rand.New(rand.NewPCG(uint64(i), 7))
		return func() ops.Op {
			op := ops.Read(0, buf, rng.Int64N(blocks)*4096) // the loop's file 0: fd
			op.Flags |= ops.FlagFixedFile
			return op
		}
	}))
	if ld != nil {
		ld.files = true
	}
	return ld, err
}

// FileReads is Reads through loop.File.ReadAt: each read takes the path
// the File chose for its file system (the ring; pread64 made by the loop
// on tmpfs and overlayfs).
func FileReads(g *loop.Group, f *loop.File, size int64, inflight int) (*Load, error) {
	blocks := size / 4096
	pages, err := loopPages(g, inflight, nil)
	if err != nil {
		return nil, err
	}
	return start(g, inflight, func(i int, l *loop.Loop, next func(error)) func() error {
		buf, rng := pages(i), rand.New(rand.NewPCG(uint64(i), 7))
		done := func(n int, err error) {
			if err == nil && n != len(buf) {
				err = io.ErrUnexpectedEOF
			}
			next(err)
		}
		return func() error { return f.ReadAt(l, buf, rng.Int64N(blocks)*4096, done) }
	})
}

// loopPages gives each loop a page of its memory (Loop.Alloc) per chain it
// runs, after setup (nil: none) on the loop; pages(i) is chain i's.
func loopPages(g *loop.Group, inflight int, setup func(l *loop.Loop) error) (pages func(i int) []byte, err error) {
	loops := g.Loops()
	mem := make([][]byte, len(loops))
	for li, l := range loops {
		n := (inflight + len(loops) - 1) / len(loops)
		done := make(chan error, 1)
		if err := l.Run(func() {
			var err error
			if mem[li], err = l.Alloc(n * 4096); err == nil && setup != nil {
				err = setup(l)
			}
			done <- err
		}); err != nil {
			return nil, err
		}
		if err := <-done; err != nil {
			return nil, err
		}
	}
	return func(i int) []byte {
		li, k := i%len(loops), i/len(loops) // chain i runs on loop i%len(loops)
		return mem[li][k*4096 : (k+1)*4096 : (k+1)*4096]
	}, nil
}

// submitted makes chains of Loop.Submit: chain(i) gives chain i's next op.
func submitted(chain func(i int) func() ops.Op) func(i int, l *loop.Loop, next func(error)) func() error {
	return func(i int, l *loop.Loop, next func(error)) func() error {
		op := chain(i)
		cb := func(r uring.Result) { next(r.Err()) }
		return func() error { _, err := l.Submit(op(), cb); return err }
	}
}

// start runs inflight chains, spread over the loops. issue(i, l, next)
// makes chain i's issuer: it starts the chain's next op, which calls next
// with its error when it completes; next counts it and issues again until
// Stop. The closures are made once per chain: an op allocates nothing.
func start(g *loop.Group, inflight int, issuer func(i int, l *loop.Loop, next func(error)) func() error) (*Load, error) {
	ld := &Load{g: g}
	loops := g.Loops()
	for range loops {
		ld.per = append(ld.per, new(counter))
	}
	for i := range inflight {
		li := i % len(loops)
		l, c := loops[li], ld.per[li]
		ld.wg.Add(1)
		var issue func() error
		again := func() {
			if err := issue(); err != nil {
				ld.fail(err)
				ld.wg.Done()
			}
		}
		next := func(err error) {
			if err != nil {
				ld.fail(err)
				ld.wg.Done()
				return
			}
			c.n.Add(1)
			if ld.stopd.Load() {
				ld.wg.Done()
				return
			}
			again()
		}
		issue = issuer(i, l, next)
		if err := l.Run(again); err != nil {
			ld.wg.Done()
			ld.Stop()
			return nil, err
		}
	}
	return ld, nil
}

func (ld *Load) fail(err error) {
	ld.err.CompareAndSwap(nil, &err)
	ld.stopd.Store(true)
}
