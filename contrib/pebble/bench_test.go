//go:build linux

package uringpebble

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

var (
	benchRuns  = flag.Int("workload.runs", 5, "BenchmarkWorkload: runs of each side, interleaved")
	benchKeys  = flag.Int("workload.keys", 200_000, "BenchmarkWorkload: bulk-written keys (1 KiB values)")
	benchDir   = flag.String("workload.dir", "", "BenchmarkWorkload: where the databases go (default $TMPDIR); must be a disk, not tmpfs")
	benchCalls = flag.Bool("workload.calls", false, "BenchmarkWorkload: count every vfs.File call per phase and print the table (adds a wrapper to both sides)")
	benchOnly  = flag.String("workload.only", "", "BenchmarkWorkload: run only the uring or the default side (for a CPU profile of one)")
)

// BenchmarkWorkload runs the workload on vfs.Default and on FS, interleaved
// (the side that goes first alternates), -workload.runs times each, and
// prints each phase's median time on both sides and the speed ratio
// default/uring (above 1: FS is faster). The ratios are also reported as
// metrics. Each phase starts after a sync(2). Run it alone, once:
//
//	go test -run '^$' -bench Workload -benchtime 1x
//
// CPU profiles carry the pprof labels fs (uring, default) and phase.
func BenchmarkWorkload(b *testing.B) {
	keys := *benchKeys
	w := workload{
		keys: keys, valueSize: 1024, batchKeys: 1000, tailKeys: keys / 2,
		randomGets: keys, evictedGets: keys / 10, goroutines: 32, cacheSize: 8 << 20,
	}
	dir := *benchDir
	if dir == "" {
		dir = os.TempDir()
	}
	var why string
	if w.evict, why = canEvict(dir); !w.evict {
		b.Logf("the evicted-reads phase is skipped: %s", why)
	}
	type sideRun struct {
		name    string
		fs      vfs.FS
		calls   callStats
		times   [][numPhases + 1]float64 // seconds per phase per run, and the run's total
		ringOps [numPhases]uint64        // summed over the runs
	}
	sides := []*sideRun{{name: "default", fs: vfs.Default}, {name: "uring", fs: FS()}}
	if *benchCalls {
		for _, s := range sides {
			s.fs = s.calls.wrap(s.fs)
		}
	}
	var digest uint64
	for run := range *benchRuns {
		order := []*sideRun{sides[0], sides[1]}
		if run%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, s := range order {
			if *benchOnly != "" && *benchOnly != s.name {
				continue
			}
			d, err := os.MkdirTemp(dir, "pebble-"+s.name+"-")
			if err != nil {
				b.Fatal(err)
			}
			// Each phase starts on an idle disk: sync(2) first, untimed, so
			// write-back left by an earlier phase, or by the other side's
			// run, does not land in it (the compact phase's times split in
			// two clusters without it, on both sides alike).
			onPhase := func(p int) {
				unix.Sync()
				if *benchCalls {
					s.calls.setPhase(p)
				}
			}
			res := runWorkload(b, s.fs, d, w, s.name, onPhase)
			if err := os.RemoveAll(d); err != nil {
				b.Fatal(err)
			}
			if digest == 0 {
				digest = res.digest
			} else if res.digest != digest {
				b.Fatalf("%s, run %d: the scan's digest %x differs from the first run's %x", s.name, run, res.digest, digest)
			}
			for p, n := range res.ringOps {
				s.ringOps[p] += n
			}
			var t [numPhases + 1]float64
			for p, d := range res.times {
				t[p] = d.Seconds()
				t[numPhases] += d.Seconds()
			}
			s.times = append(s.times, t)
			fmt.Fprintf(os.Stdout, "run %d %-7s total %6.2fs: %s\n", run, s.name, t[numPhases], phaseLine(t[:numPhases]))
		}
	}
	if len(sides[0].times) == 0 || len(sides[1].times) == 0 {
		return // one side only: no ratios
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nBenchmarkWorkload: %d keys x %d B, median of %d runs each (GOMAXPROCS %d)\n",
		w.keys, w.valueSize, *benchRuns, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&sb, "%-15s %12s %12s %16s\n", "phase", "default s", "uring s", "default/uring")
	for p := range numPhases + 1 {
		name := "total"
		if p < numPhases {
			name = phaseNames[p]
		}
		std, ours := median(sides[0].times, p), median(sides[1].times, p)
		ratio := 0.0
		if ours > 0 {
			ratio = std / ours
		}
		fmt.Fprintf(&sb, "%-15s %12.3f %12.3f %15.2fx\n", name, std, ours, ratio)
		if ours > 0 {
			b.ReportMetric(ratio, name+"-x")
		}
	}
	fmt.Fprintf(&sb, "\nring operations per run (mean), uring side:")
	for p, n := range sides[1].ringOps {
		fmt.Fprintf(&sb, " %s %d", phaseNames[p], n/uint64(len(sides[1].times)))
	}
	fmt.Fprintln(&sb)
	fmt.Fprint(os.Stdout, sb.String())
	if *benchCalls {
		printCallTable(os.Stdout, &sides[0].calls, &sides[1].calls, *benchRuns)
	}
}

func phaseLine(t []float64) string {
	parts := make([]string, len(t))
	for p, s := range t {
		parts[p] = fmt.Sprintf("%s %.2f", phaseNames[p], s)
	}
	return strings.Join(parts, ", ")
}

func median(runs [][numPhases + 1]float64, p int) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = r[p]
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
