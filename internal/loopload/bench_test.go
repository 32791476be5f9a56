//go:build linux

package loopload_test

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/cbench"
	"github.com/goaio/uring/internal/loopback"
	"github.com/goaio/uring/internal/loopload"
	"github.com/goaio/uring/loop"
)

// benchTime is a side's measuring time: 2 s, or URING_BENCH_TIME.
func benchTime(b *testing.B) time.Duration {
	if s := os.Getenv("URING_BENCH_TIME"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return 2 * time.Second
}

// measureLoad runs ld for d and returns its ops per second.
func measureLoad(b *testing.B, start func() (*loopload.Load, error), d time.Duration) float64 {
	ld, err := start()
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(d / 5) // warm-up
	n0, t0 := ld.Done(), time.Now()
	time.Sleep(d)
	n, el := ld.Done()-n0, time.Since(t0)
	if err := ld.Stop(); err != nil {
		b.Fatal(err)
	}
	return float64(n) / el.Seconds()
}

func newGroup(b *testing.B) *loop.Group {
	if err := uring.Available(); err != nil {
		b.Skipf("io_uring unavailable here: %v", err)
	}
	g, err := loop.NewGroup()
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Fallback(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

// compare alternates the two sides for 3 rounds and returns their medians,
// and logs each side's ops per second of the process's CPU time.
func compare(b *testing.B, ours, c func() float64, names ...string) (float64, float64) {
	var os_, cs, oeff, ceff []float64
	timed := func(f func() float64, rates, effs *[]float64) {
		cpu0, t0 := processCPU(), time.Now()
		r := f()
		cpu, el := processCPU()-cpu0, time.Since(t0)
		*rates = append(*rates, r)
		*effs = append(*effs, r*el.Seconds()/cpu.Seconds())
	}
	for round := range 3 {
		if round%2 == 0 {
			timed(ours, &os_, &oeff)
			timed(c, &cs, &ceff)
		} else {
			timed(c, &cs, &ceff)
			timed(ours, &os_, &oeff)
		}
	}
	a, z := "loop", "C"
	if len(names) == 2 {
		a, z = names[0], names[1]
	}
	b.Logf("ops per CPU second: %s %.0f, %s %.0f (%.2fx)", a, loopback.Median(oeff), z, loopback.Median(ceff),
		loopback.Median(oeff)/loopback.Median(ceff))
	return loopback.Median(os_), loopback.Median(cs)
}

// processCPU is the process's user and system time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoopNop: NOPs from loop callbacks, 256 in flight across the
// loops (GOMAXPROCS), against C liburing's NOPs at batch 32.
func BenchmarkLoopNop(b *testing.B) {
	g := newGroup(b)
	d := benchTime(b)
	ours, c := compare(b, func() float64 {
		return measureLoad(b, func() (*loopload.Load, error) { return loopload.Nops(g, 256) }, d)
	}, func() float64 {
		r, err := cbench.Nop(32, d)
		if err != nil {
			b.Fatal(err)
		}
		return float64(r.Ops) / r.Elapsed.Seconds()
	})
	b.Logf("loop %.0f NOP/s, C batch 32 %.0f NOP/s", ours, c)
	b.ReportMetric(ours, "ops/s")
	b.ReportMetric(ours/c, "xC")
}

// BenchmarkLoopRandRead: 4 KiB random reads of a warm 256 MiB file from
// loop callbacks, 64 in flight across the loops, against C liburing with
// 2 threads at queue depth 32.
func BenchmarkLoopRandRead(b *testing.B) {
	g := newGroup(b)
	d := benchTime(b)
	threads := 2
	if os.Getenv("X1") != "" {
		threads = 1
		g, _ = loop.NewGroup(loop.WithLoops(1))
		defer g.Close()
	}
	const size = 256 << 20
	p := filepath.Join(b.TempDir(), "data")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	ours, c := compare(b, func() float64 {
		return measureLoad(b, func() (*loopload.Load, error) { return loopload.Reads(g, fd, size, 32*threads) }, d)
	}, func() float64 {
		var wg sync.WaitGroup
		rates := make([]float64, 2)
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := cbench.Read(fd, size, 32, d, uint64(t+1))
				if err != nil {
					b.Error(err)
					return
				}
				rates[t] = float64(r.Ops) / r.Elapsed.Seconds()
			}()
		}
		wg.Wait()
		return rates[0] + rates[1]
	})
	b.Logf("loop %.0f reads/s, C 2 threads x QD32 %.0f reads/s", ours, c)
	b.ReportMetric(ours, "ops/s")
	b.ReportMetric(ours/c, "xC")
}

// BenchmarkLoopReadRoutes: 4 KiB random reads of a warm 256 MiB file in
// URING_LOOP_DIR (default the test's temp dir), from the loops' callbacks
// three ways: on the ring (64 in flight, Reads), as pread(2) made by the
// loop itself (PreadReads), and by loop.File.ReadAt (64 in flight); each
// against pread in 3 rounds alternating, medians. Run it on each
// file system (make bench-loop-fs): where io_uring hands reads to io-wq
// workers the two differ most.
func BenchmarkLoopReadRoutes(b *testing.B) {
	g := newGroup(b)
	d := benchTime(b)
	dir := os.Getenv("URING_LOOP_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	const size = 256 << 20
	f, err := os.CreateTemp(dir, "loopread")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	fd := int(f.Fd())
	lf, err := loop.NewFile(fd)
	if err != nil {
		b.Fatal(err)
	}
	ring, pread := compare(b, func() float64 {
		return measureLoad(b, func() (*loopload.Load, error) { return loopload.Reads(g, fd, size, 64) }, d)
	}, func() float64 {
		return measureLoad(b, func() (*loopload.Load, error) { return loopload.PreadReads(g, fd, size) }, d)
	}, "ring", "pread")
	file, pread2 := compare(b, func() float64 {
		return measureLoad(b, func() (*loopload.Load, error) { return loopload.FileReads(g, lf, size, 64) }, d)
	}, func() float64 {
		return measureLoad(b, func() (*loopload.Load, error) { return loopload.PreadReads(g, fd, size) }, d)
	}, "File.ReadAt", "pread")
	b.Logf("%s: ring %.2fx pread from the loop; File.ReadAt %.2fx (pread %.0f, %.0f reads/s)", dir, ring/pread, file/pread2, pread, pread2)
	b.ReportMetric(ring/pread, "ring-xPREAD")
	b.ReportMetric(file/pread2, "file-xPREAD")
}
