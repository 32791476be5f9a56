//go:build linux

package uring_test

// Benchmarks that compare the Ring with os.File and with a C liburing loop
// (internal/cbench) in the same run, and report ratios: the machine these run
// on is noisy, so absolute figures from different runs do not compare, while
// ratios taken side by side do.
//
// Each benchmark ignores b.N: every contender runs for a fixed wall time
// (URING_BENCH_TIME, default 2s) split into two halves, run in the order
// A B C then C B A, so that drift during the run touches all contenders alike.
// Run them with
//
//	go test -run '^$' -bench . -benchtime 1x .
//
// URING_BENCH_ONLY, a regular expression over contender names (such as
// "^uring"), measures only the matching contenders, for a CPU profile of one
// side; ratios with a skipped side are then not reported.
//
// The read benchmarks use one 1 GiB file per process, created in
// URING_BENCH_DIR or os.TempDir() and removed when the test binary exits.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/cbench"
	"github.com/goaio/uring/ops"
)

const (
	benchBlock    = cbench.BlockSize
	benchFileSize = 1 << 30
	nopWorkers    = 256 // goroutines calling Do(Nop)
	nopBatchC     = 32  // the C NOP loop's batch size
	readWorkers   = 64  // goroutines (and C queue depth) for the parallel reads
)

// benchDuration is each contender's total measuring time.
func benchDuration(tb testing.TB) time.Duration {
	s := os.Getenv("URING_BENCH_TIME")
	if s == "" {
		return 2 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		tb.Fatalf("URING_BENCH_TIME=%q: want a positive duration such as 2s", s)
	}
	return d
}

// benchRequireRing skips when io_uring is unavailable here, or fails under
// URING_REQUIRE=1.
func benchRequireRing(tb testing.TB) {
	tb.Helper()
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			tb.Fatalf("io_uring required: %v", err)
		}
		tb.Skipf("io_uring unavailable: %v", err)
	}
}

// benchRing returns a Ring sharded like Default: one shard per processor.
func benchRing(tb testing.TB) *uring.Ring {
	tb.Helper()
	r, err := uring.New(uring.WithShards(runtime.GOMAXPROCS(0)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// tally is one contender's measurement: ops completed in elapsed, using cpu
// time of the process (user and system, all threads).
type tally struct {
	ops     uint64
	elapsed time.Duration
	cpu     time.Duration
}

// cores is the mean number of CPUs the process kept busy: below
// GOMAXPROCS, a contender left a core idle (or the machine's other load
// took it).
func (t tally) cores() float64 {
	if t.elapsed <= 0 {
		return 0
	}
	return t.cpu.Seconds() / t.elapsed.Seconds()
}

// processCPU returns the process's user plus system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (t tally) rate() float64 {
	if t.elapsed <= 0 {
		return 0
	}
	return float64(t.ops) / t.elapsed.Seconds()
}

func fromC(r cbench.Result) tally { return tally{ops: r.Ops, elapsed: r.Elapsed} }

// contender is one side of a comparison: run measures it for about d.
type contender struct {
	name string
	run  func(d time.Duration) (tally, error)
}

// compare measures every contender for d in total: a short untimed warm-up,
// then d/2 each in order, then d/2 each in reverse order. The tallies come
// back in the contenders' order; a contender that URING_BENCH_ONLY leaves out
// gets a zero tally.
func compare(b *testing.B, d time.Duration, cs ...contender) []tally {
	b.Helper()
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average at start: %s", bytes.TrimSpace(la)) // the machine is shared: context for the figures
	}
	var only *regexp.Regexp
	if expr := os.Getenv("URING_BENCH_ONLY"); expr != "" {
		var err error
		if only, err = regexp.Compile(expr); err != nil {
			b.Fatalf("URING_BENCH_ONLY: %v", err)
		}
	}
	var order []int
	for i, c := range cs {
		if only == nil || only.MatchString(c.name) {
			order = append(order, i)
		}
	}
	warm := min(d/10, 200*time.Millisecond)
	for _, i := range order {
		if _, err := cs[i].run(warm); err != nil {
			b.Fatalf("%s: %v", cs[i].name, err)
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		order = append(order, order[i])
	}
	out := make([]tally, len(cs))
	for _, i := range order {
		cpu := processCPU()
		t, err := cs[i].run(d / 2)
		if err != nil {
			b.Fatalf("%s: %v", cs[i].name, err)
		}
		out[i].ops += t.ops
		out[i].elapsed += t.elapsed
		out[i].cpu += processCPU() - cpu
	}
	for i, c := range cs {
		if out[i].elapsed > 0 {
			b.Logf("%-24s %12.0f ops/s  %.2f cores  (%d ops in %v)", c.name, out[i].rate(), out[i].cores(),
				out[i].ops, out[i].elapsed.Round(time.Millisecond))
		}
	}
	return out
}

// report reports a metric unless it is missing (a contender left out).
func report(b *testing.B, v float64, unit string) {
	if v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
		b.ReportMetric(v, unit)
	}
}

// goLoop runs n goroutines for d, each calling its step function in a loop.
// newStep(i) builds goroutine i's step before timing starts, so per-goroutine
// setup (buffers) stays out of the measurement. The first error stops all.
func goLoop(n int, d time.Duration, newStep func(i int) func() error) (tally, error) {
	var (
		stop       atomic.Bool
		ready      sync.WaitGroup
		done       sync.WaitGroup
		total      atomic.Uint64
		firstErr   error
		errOnce    sync.Once
		failed     = make(chan struct{})
		start      = make(chan struct{})
		stepsByIdx = make([]func() error, n)
	)
	for i := range stepsByIdx {
		stepsByIdx[i] = newStep(i)
	}
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func(step func() error) {
			defer done.Done()
			ready.Done()
			<-start
			var ops uint64
			for !stop.Load() {
				if err := step(); err != nil {
					errOnce.Do(func() { firstErr = err; close(failed) })
					break
				}
				ops++
			}
			total.Add(ops)
		}(stepsByIdx[i])
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-failed:
		timer.Stop()
	}
	stop.Store(true)
	done.Wait()
	return tally{ops: total.Load(), elapsed: time.Since(t0)}, firstErr
}

// benchRand is xorshift64*: one per goroutine, no locks, no allocation.
type benchRand uint64

// block returns a random block-aligned offset in the bench file.
func (r *benchRand) block() int64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = benchRand(x)
	return int64((x*0x2545F4914F6CDD1D)%(benchFileSize/benchBlock)) * benchBlock
}

func newBenchRand(i int) benchRand { return benchRand(uint64(i+1)*0x9E3779B97F4A7C15 | 1) }

// alignedBlock returns a benchBlock-sized buffer aligned to benchBlock, as
// O_DIRECT requires.
func alignedBlock() []byte {
	b := make([]byte, 2*benchBlock)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (benchBlock - 1))
	return b[off : off+benchBlock : off+benchBlock]
}

// errShortRead reports a read that moved fewer than benchBlock bytes.
var errShortRead = errors.New("short read")

// ringReaders measures Do(ops.Read) from n goroutines on fd.
func ringReaders(r *uring.Ring, fd, n int) contender {
	return contender{fmt.Sprintf("uring Do x%d", n), func(d time.Duration) (tally, error) {
		ctx := context.Background()
		return goLoop(n, d, func(i int) func() error {
			buf, rnd := alignedBlock(), newBenchRand(i)
			return func() error {
				res, err := r.Do(ctx, ops.Read(fd, buf, rnd.block()))
				if err != nil {
					return err
				}
				if res.Res != benchBlock {
					return errShortRead
				}
				return nil
			}
		})
	}}
}

// osReaders measures os.File.ReadAt from n goroutines on f.
func osReaders(f *os.File, n int) contender {
	return contender{fmt.Sprintf("os.File.ReadAt x%d", n), func(d time.Duration) (tally, error) {
		return goLoop(n, d, func(i int) func() error {
			buf, rnd := alignedBlock(), newBenchRand(i+1000)
			return func() error {
				n, err := f.ReadAt(buf, rnd.block())
				if err != nil {
					return err
				}
				if n != benchBlock {
					return errShortRead
				}
				return nil
			}
		})
	}}
}

// cReaders measures the C liburing read loop at queue depth qd on fd.
func cReaders(fd, qd int) contender {
	seed := uint64(0)
	return contender{fmt.Sprintf("C liburing QD%d", qd), func(d time.Duration) (tally, error) {
		seed++
		r, err := cbench.Read(fd, benchFileSize, qd, d, seed)
		return fromC(r), err
	}}
}

// cRings measures C liburing with one ring per processor, each on its own
// thread at queue depth qd/GOMAXPROCS: what C does with a ring per core.
func cRings(fd, qd int) contender {
	n := runtime.GOMAXPROCS(0)
	seed := uint64(0)
	return contender{fmt.Sprintf("C liburing %dx QD%d", n, qd/n), func(d time.Duration) (tally, error) {
		seed++
		r, err := cbench.ReadRings(fd, benchFileSize, n, max(1, qd/n), d, seed)
		return fromC(r), err
	}}
}

// reportRing reports how many operations the Ring submitted per
// io_uring_enter during the benchmark (the batching the dispatcher
// achieved), and how many cores the process kept busy while t, the Ring's
// tally, ran.
func reportRing(b *testing.B, r *uring.Ring, t tally) {
	report(b, t.cores(), "cores")
	st := r.Stats()
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Submitted)/float64(st.Batches), "ops/enter")
	}
	if st.Submitted > 0 {
		b.ReportMetric(st.EntersPerOp(), "enters/op")
		b.ReportMetric(st.ParksPerOp(), "parks/op")
		b.ReportMetric(float64(st.Wakeups)/float64(st.Submitted), "wakeups/op")
	}
}

// BenchmarkNOP measures Do(ops.Nop()) round trips from 256 goroutines against
// C liburing at batch 32: the dispatcher's own cost per operation.
func BenchmarkNOP(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	r := benchRing(b)
	ctx := context.Background()
	t := compare(b, d,
		contender{fmt.Sprintf("C liburing NOP batch %d", nopBatchC), func(d time.Duration) (tally, error) {
			res, err := cbench.Nop(nopBatchC, d)
			return fromC(res), err
		}},
		contender{fmt.Sprintf("uring Do(Nop) x%d", nopWorkers), func(d time.Duration) (tally, error) {
			return goLoop(nopWorkers, d, func(int) func() error {
				return func() error {
					_, err := r.Do(ctx, ops.Nop())
					return err
				}
			})
		}},
	)
	c, g := t[0].rate(), t[1].rate()
	report(b, 1e9/g, "ns/op")
	report(b, g, "ops/s")
	report(b, c, "C-ops/s")
	report(b, g/c, "xC")
	reportRing(b, r, t[1])
}

// BenchmarkReadWarm64 measures 4 KiB random reads of a cached 1 GiB file from
// 64 goroutines: Do(ops.Read) against os.File.ReadAt, with C liburing at
// queue depth 64 for reference.
func BenchmarkReadWarm64(b *testing.B) { benchReadWarm(b, readWorkers) }

// BenchmarkReadWarm1 is BenchmarkReadWarm64 with one goroutine (and C at
// queue depth 1): a lone caller must not wait for a batch or a tick.
func BenchmarkReadWarm1(b *testing.B) { benchReadWarm(b, 1) }

func benchReadWarm(b *testing.B, n int) {
	benchRequireRing(b)
	d := benchDuration(b)
	path := benchFile(b, benchDir())
	fd := openFd(b, path, 0)
	f := openFile(b, path, 0)
	r := benchRing(b)
	cc := cReaders(fd, n)
	if n > 1 {
		cc = cRings(fd, n) // the anchor: a ring per core
	}
	t := compare(b, d, ringReaders(r, fd, n), osReaders(f, n), cc)
	g, o, c := t[0].rate(), t[1].rate(), t[2].rate()
	report(b, 1e9/g, "ns/op")
	report(b, g, "IOPS")
	report(b, o, "os-IOPS")
	report(b, c, "C-IOPS")
	report(b, g/o, "xOS")
	report(b, g/c, "xC")
	reportRing(b, r, t[0])
}

// BenchmarkReadDirect64 measures 4 KiB random O_DIRECT reads from 64
// goroutines: Do(ops.Read) against os.File.ReadAt and C liburing at queue
// depth 64. The device is the limit here; the Ring must keep it as busy as C.
func BenchmarkReadDirect64(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := directDir(b)
	path := benchFile(b, dir)
	fd := openFd(b, path, syscall.O_DIRECT)
	f := openFile(b, path, syscall.O_DIRECT)
	r := benchRing(b)
	t := compare(b, d, ringReaders(r, fd, readWorkers), osReaders(f, readWorkers), cReaders(fd, readWorkers))
	g, o, c := t[0].rate(), t[1].rate(), t[2].rate()
	report(b, 1e9/g, "ns/op")
	report(b, g, "IOPS")
	report(b, o, "os-IOPS")
	report(b, c, "C-IOPS")
	report(b, g/c, "xC")
	report(b, g/o, "xOS")
	reportRing(b, r, t[0])
}

func openFd(tb testing.TB, path string, flags int) int {
	tb.Helper()
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|flags, 0)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	return fd
}

func openFile(tb testing.TB, path string, flags int) *os.File {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDONLY|flags, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// benchDir is where the bench file goes: URING_BENCH_DIR or os.TempDir().
func benchDir() string {
	if d := os.Getenv("URING_BENCH_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

// directDir returns the first of benchDir(), /var/tmp and the package
// directory whose filesystem does O_DIRECT on a real device, or skips.
//
// With URING_BENCH_DIR_ONLY=1 (hack/fsbench.sh, which measures one file
// system at a time) only benchDir() is tried, and tmpfs counts: O_DIRECT
// there is a copy from memory, and the dispatch rule has a row for it.
func directDir(b *testing.B) string {
	var why []string
	strict := os.Getenv("URING_BENCH_DIR_ONLY") == "1"
	cands := []string{benchDir(), "/var/tmp"}
	if wd, err := os.Getwd(); err == nil {
		cands = append(cands, wd)
	}
	if strict {
		cands = cands[:1]
	}
	for _, dir := range cands {
		err := probeDirect(dir, strict)
		if err == nil {
			return dir
		}
		why = append(why, fmt.Sprintf("%s: %v", dir, err))
	}
	b.Skipf("no directory supports O_DIRECT: %v", why)
	return ""
}

const tmpfsMagic = 0x01021994

// probeDirect checks that dir's filesystem accepts an O_DIRECT read, and that
// it is not tmpfs, where O_DIRECT has no device to go to.
func probeDirect(dir string, tmpfsToo bool) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Type == tmpfsMagic && !tmpfsToo {
		return errors.New("tmpfs: no device behind O_DIRECT")
	}
	f, err := os.CreateTemp(dir, "uring-odirect-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, benchBlock))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fd, err := syscall.Open(f.Name(), syscall.O_RDONLY|syscall.O_DIRECT|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open O_DIRECT: %w", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.Pread(fd, alignedBlock(), 0); err != nil {
		return fmt.Errorf("O_DIRECT read: %w", err)
	}
	return nil
}

// benchFiles holds the bench file of each directory, created once per process.
var benchFiles struct {
	sync.Mutex
	byDir map[string]*benchFileOnce
}

type benchFileOnce struct {
	once sync.Once
	path string
	err  error
}

// benchFile returns a 1 GiB file of non-zero data in dir, written, synced
// (so O_DIRECT reads do not wait for writeback) and read once to warm the
// page cache. It is made once per process and directory.
func benchFile(tb testing.TB, dir string) string {
	tb.Helper()
	benchFiles.Lock()
	if benchFiles.byDir == nil {
		benchFiles.byDir = map[string]*benchFileOnce{}
	}
	o := benchFiles.byDir[dir]
	if o == nil {
		o = &benchFileOnce{}
		benchFiles.byDir[dir] = o
	}
	benchFiles.Unlock()
	o.once.Do(func() {
		start := time.Now()
		o.path, o.err = makeBenchFile(dir)
		if o.err == nil {
			tb.Logf("bench file %s: made and warmed in %v", o.path, time.Since(start).Round(time.Millisecond))
		}
	})
	if o.err != nil {
		tb.Fatalf("bench file in %s: %v", dir, o.err)
	}
	return o.path
}

func makeBenchFile(dir string) (path string, err error) {
	f, err := os.CreateTemp(dir, "uring-bench-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			path = ""
		}
	}()
	chunk := make([]byte, 1<<20)
	for i := 0; i < benchFileSize/len(chunk); i++ {
		for j := range chunk {
			chunk[j] = byte(i+j*7) | 1
		}
		if _, err := f.Write(chunk); err != nil {
			return "", err
		}
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, chunk); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func removeBenchFiles() {
	benchFiles.Lock()
	defer benchFiles.Unlock()
	for _, o := range benchFiles.byDir {
		if o.path != "" {
			os.Remove(o.path)
		}
	}
}

// raceEnabled reports a -race build, where sync.Pool drops items at random
// and so allocates by design.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// TestZeroAllocs checks invariant 7: Do with Nop, Read and Write allocates
// nothing on a warm ring, with one shard and with one per processor.
func TestZeroAllocs(t *testing.T) {
	benchRequireRing(t)
	if raceEnabled() {
		t.Skip("-race: sync.Pool drops items at random, so allocation counts are meaningless")
	}
	path := filepath.Join(t.TempDir(), "allocs")
	if err := os.WriteFile(path, make([]byte, benchBlock), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	buf := make([]byte, 512)
	ctx := context.Background()
	for _, shards := range []int{1, runtime.GOMAXPROCS(0)} {
		r, err := uring.New(uring.WithShards(shards))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			op   func() ops.Op
		}{
			{"Nop", ops.Nop},
			{"Read", func() ops.Op { return ops.Read(fd, buf, 0) }},
			{"Write", func() ops.Op { return ops.Write(fd, buf, 512) }},
		} {
			t.Run(fmt.Sprintf("%s/shards=%d", tc.name, shards), func(t *testing.T) {
				var failed error
				do := func() {
					if _, err := r.Do(ctx, tc.op()); err != nil && failed == nil {
						failed = err
					}
				}
				for range 100 {
					do() // warm: slots, pools, goroutine stacks
				}
				if n := testing.AllocsPerRun(1000, do); n != 0 {
					t.Errorf("Do(%s): %v allocations per op, want 0", tc.name, n)
				}
				if failed != nil {
					t.Fatal(failed)
				}
			})
		}
		r.Close()
	}
}
