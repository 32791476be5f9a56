package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
)

func init() {
	commands["bench"] = command{"run io_uring and the standard library side by side on a built-in workload", runBench}
}

// sideResult is one side of a case over all rounds.
type sideResult struct {
	OpsPerSec  float64   `json:"ops_per_sec"`   // median over rounds
	Spread     float64   `json:"spread"`        // (max-min)/median of the rounds
	Rounds     []float64 `json:"rounds"`        // ops/s of each round
	CPUPerOpNs float64   `json:"cpu_per_op_ns"` // CPU time per op of the side measured: this process, or the server's child process (echo, http)
	P50Ns      float64   `json:"p50_ns"`        // latency of one op
	P99Ns      float64   `json:"p99_ns"`
	Threads    int       `json:"threads"` // OS threads the measured process started during a round (the most of any round)
	// ReadBytesPerOp is what the process read from storage per op
	// (/proc/self/io read_bytes): about 4096 for a 4 KiB read that misses
	// the page cache, 0 for one it serves.
	ReadBytesPerOp float64 `json:"read_bytes_per_op"`
	Unit           string  `json:"unit"` // what an op is: "op" or "B"
	Error          string  `json:"error,omitempty"`
	measurements   []sample
}

// caseResult is one line of the table.
type caseResult struct {
	Case        string      `json:"case"`
	What        string      `json:"what"`
	Uring       *sideResult `json:"uring,omitempty"` // nil where io_uring is unavailable
	Std         *sideResult `json:"std"`
	Ratio       float64     `json:"ratio"` // uring/std medians; 0 without both
	RatioLow    float64     `json:"ratio_low"`
	RatioHigh   float64     `json:"ratio_high"`
	Skipped     string      `json:"skipped,omitempty"`
	Goroutines  int         `json:"goroutines"`
	DurationSec float64     `json:"duration_sec"` // per side per round
}

type benchReport struct {
	Kernel      string       `json:"kernel"`
	GoVersion   string       `json:"go_version"`
	CPUs        int          `json:"cpus"`
	Uring       bool         `json:"uring"`
	Unavailable string       `json:"unavailable,omitempty"`
	Dir         string       `json:"dir"`
	FileSystem  string       `json:"file_system"` // the file system of Dir
	Route       string       `json:"route"`       // where fs.File's calls go there (fs.Route)
	SizeBytes   int64        `json:"size_bytes"`
	Rounds      int          `json:"rounds"`
	Cases       []caseResult `json:"cases"`
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("uring bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	duration := fl.Duration("duration", time.Second, "measurement time per side per round")
	goroutines := fl.Int("goroutines", 64, "goroutines issuing operations (echo and http: connections)")
	only := fl.String("only", "", "comma-separated cases to run: "+caseNames())
	dir := fl.String("dir", "", "directory for the data files (default: the system's temporary directory); point it at your disk")
	size := fl.Int64("size", 256<<20, "size in bytes of the data file")
	rounds := fl.Int("rounds", 3, "rounds per case, the two sides interleaved")
	asJSON := fl.Bool("json", false, "print the results as JSON")
	plot := fl.String("plot", "", "write a bar chart of the ratios to this SVG file")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 || *duration <= 0 || *goroutines <= 0 || *size < 4096 || *rounds <= 0 {
		fmt.Fprintln(stderr, "uring bench: bad arguments")
		fl.Usage()
		return 2
	}
	cases, err := selectCases(*only)
	if err != nil {
		fmt.Fprintln(stderr, "uring bench:", err)
		return 2
	}
	base, err := os.MkdirTemp(*dir, "uring-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "uring bench:", err)
		return 1
	}
	defer os.RemoveAll(base)

	rep := benchReport{Kernel: osRelease(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Dir: base, SizeBytes: *size, Rounds: *rounds}
	rep.FileSystem, rep.Route = routeOf(base)
	env := &benchEnv{dir: base, size: *size, goroutines: *goroutines}
	if err := uring.Available(); err != nil {
		rep.Unavailable = err.Error()
		fmt.Fprintf(stderr, "uring bench: io_uring is unavailable here (%v): running the standard library side only\n", err)
	} else if env.ring, err = uring.Default(); err != nil {
		rep.Unavailable = err.Error()
	} else {
		rep.Uring = true
	}

	sides := 1
	if rep.Uring {
		sides = 2
	}
	bar := newBar(stderr, len(cases)**rounds*sides)
	for _, bc := range cases {
		rep.Cases = append(rep.Cases, runCase(env, bc, *rounds, *duration, bar))
	}
	_ = bar.Finish()

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "uring bench:", err)
			return 1
		}
	} else {
		printTable(stdout, &rep)
	}
	if *plot != "" {
		if err := writePlot(*plot, &rep); err != nil {
			fmt.Fprintln(stderr, "uring bench:", err)
			return 1
		}
	}
	for _, c := range rep.Cases {
		if (c.Std != nil && c.Std.Error != "") || (c.Uring != nil && c.Uring.Error != "") {
			return 1
		}
	}
	return 0
}

func caseNames() string {
	names := make([]string, len(benchCases))
	for i, c := range benchCases {
		names[i] = c.name
	}
	return strings.Join(names, ",")
}

func selectCases(only string) ([]benchCase, error) {
	if only == "" {
		return benchCases, nil
	}
	var out []benchCase
	seen := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] { // "nop," and "nop,nop" are "nop", as a shell user means them
			continue
		}
		seen[name] = true
		found := false
		for _, c := range benchCases {
			if c.name == name {
				out, found = append(out, c), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown case %q (cases: %s)", name, caseNames())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--only %q names no case (cases: %s)", only, caseNames())
	}
	return out, nil
}

// newBar draws progress on stderr when it is a terminal, and nothing otherwise.
func newBar(stderr io.Writer, steps int) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return progressbar.DefaultSilent(int64(steps))
	}
	return progressbar.NewOptions(steps, progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("uring bench"), progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish())
}

// runCase measures bc: rounds of std then ring, the sides interleaved so
// the machine's drift falls on both.
func runCase(env *benchEnv, bc benchCase, rounds int, d time.Duration, bar *progressbar.ProgressBar) caseResult {
	cr := caseResult{Case: bc.name, What: bc.what, Goroutines: env.goroutines, DurationSec: d.Seconds()}
	if bc.solo {
		cr.Goroutines = 1
	}
	if bc.setup != nil {
		if err := bc.setup(env); err != nil {
			cr.Skipped = "setup: " + err.Error()
			_ = bar.Add(rounds * 2)
			return cr
		}
	}
	cr.Std = &sideResult{Unit: bc.unit}
	if env.ring != nil {
		cr.Uring = &sideResult{Unit: bc.unit}
	}
	for range rounds {
		for _, side := range []*sideResult{cr.Std, cr.Uring} {
			if side == nil {
				continue
			}
			build := bc.std
			if side == cr.Uring {
				build = bc.ring
			}
			s, err := runSide(env, build, cr.Goroutines, d)
			_ = bar.Add(1)
			if bc.window && side == cr.Uring {
				s.lat = nil // the goroutines only counted: the times are windows
			}
			var skip errSkip
			if errors.As(err, &skip) {
				cr.Skipped, cr.Std, cr.Uring = skip.reason, nil, nil
				return cr
			}
			if err != nil {
				side.Error = err.Error()
				continue
			}
			side.measurements = append(side.measurements, s)
		}
	}
	for _, side := range []*sideResult{cr.Std, cr.Uring} {
		if side != nil {
			summarize(side)
		}
	}
	if cr.Uring != nil && cr.Std.OpsPerSec > 0 && cr.Uring.OpsPerSec > 0 {
		cr.Ratio = cr.Uring.OpsPerSec / cr.Std.OpsPerSec
		cr.RatioLow, cr.RatioHigh = cr.Ratio, cr.Ratio
		for i := range min(len(cr.Uring.Rounds), len(cr.Std.Rounds)) {
			r := cr.Uring.Rounds[i] / cr.Std.Rounds[i]
			cr.RatioLow, cr.RatioHigh = min(cr.RatioLow, r), max(cr.RatioHigh, r)
		}
	}
	return cr
}

func runSide(env *benchEnv, build func(*benchEnv) (func(int) (step, error), func(), error), n int, d time.Duration) (sample, error) {
	newStep, cleanup, err := build(env)
	if err != nil {
		return sample{}, err
	}
	defer cleanup()
	of := self
	if env.server != nil {
		of = subject{cpu: env.server.CPU, threads: env.server.Threads}
	}
	return measure(n, d, newStep, of)
}

func summarize(side *sideResult) {
	var lat []time.Duration
	var cpu time.Duration
	var ops, rb uint64
	for _, s := range side.measurements {
		side.Rounds = append(side.Rounds, s.rate())
		lat = append(lat, s.lat...)
		cpu += s.cpu
		ops += s.ops
		rb += s.readBytes
		side.Threads = max(side.Threads, s.threads)
	}
	side.OpsPerSec, side.Spread = median(side.Rounds), spread(side.Rounds)
	if ops > 0 {
		side.CPUPerOpNs = float64(cpu.Nanoseconds()) / float64(ops)
		side.ReadBytesPerOp = float64(rb) / float64(ops)
	}
	side.P50Ns = float64(percentile(lat, 50).Nanoseconds())
	side.P99Ns = float64(percentile(lat, 99).Nanoseconds())
}

func printTable(w io.Writer, rep *benchReport) {
	fmt.Fprintf(w, "uring bench: kernel %s, %s, %d CPUs, data in %s (%d MiB), %d rounds\n",
		rep.Kernel, rep.GoVersion, rep.CPUs, rep.Dir, rep.SizeBytes>>20, rep.Rounds)
	fmt.Fprintf(w, "file system of the data: %s; fs.File there: %s\n", rep.FileSystem, rep.Route)
	if !rep.Uring {
		fmt.Fprintf(w, "io_uring unavailable (%s): standard library side only\n", rep.Unavailable)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\turing/s\t±\tstd/s\t±\tratio\tCPU/op uring\tCPU/op std\tp50 uring\tp50 std\tp99 uring\tp99 std\tnew threads uring\tnew threads std\t")
	for _, c := range rep.Cases {
		if c.Skipped != "" {
			fmt.Fprintf(tw, "%s\tskipped: %s\t\t\t\t\t\t\t\t\t\t\t\t\t\n", c.Case, c.Skipped)
			continue
		}
		u := c.Uring
		if u == nil {
			u = &sideResult{}
		}
		ratio := "-"
		if c.Ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", c.Ratio)
		}
		uSpread, uThreads := pct(u.Spread), fmt.Sprint(u.Threads)
		if c.Uring == nil {
			uSpread, uThreads = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", c.Case,
			rate(u.OpsPerSec, c.Std.Unit), uSpread, rate(c.Std.OpsPerSec, c.Std.Unit), pct(c.Std.Spread), ratio,
			cpuPer(u.CPUPerOpNs, c.Std.Unit), cpuPer(c.Std.CPUPerOpNs, c.Std.Unit), ns(u.P50Ns), ns(c.Std.P50Ns), ns(u.P99Ns), ns(c.Std.P99Ns),
			uThreads, c.Std.Threads)
	}
	tw.Flush()
	// Where the reads went to the device (cold, direct), how much: a 4 KiB
	// read that misses the cache reads 4 KiB, one it serves reads nothing.
	for _, c := range rep.Cases {
		if c.Std == nil || c.Std.Unit != "op" || (c.Std.ReadBytesPerOp < 1 && (c.Uring == nil || c.Uring.ReadBytesPerOp < 1)) {
			continue
		}
		u := "-"
		if c.Uring != nil {
			u = kib(c.Uring.ReadBytesPerOp)
		}
		fmt.Fprintf(w, "%s: read from storage per op: uring %s, std %s\n", c.Case, u, kib(c.Std.ReadBytesPerOp))
	}
	for _, c := range rep.Cases {
		for _, s := range []*sideResult{c.Uring, c.Std} {
			if s != nil && s.Error != "" {
				fmt.Fprintf(w, "%s: error: %s\n", c.Case, s.Error)
			}
		}
	}
}

func rate(v float64, unit string) string {
	if v == 0 {
		return "-"
	}
	if unit == "B" {
		return fmt.Sprintf("%.0f MB", v/1e6)
	}
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// cpuPer shows CPU time per op, or per MB when an op is a byte.
func cpuPer(v float64, unit string) string {
	if unit == "B" {
		return ns(v*1e6) + "/MB"
	}
	return ns(v)
}

func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }

func pct(v float64) string { return fmt.Sprintf("%.0f%%", v*100) }

func ns(v float64) string {
	if v == 0 {
		return "-"
	}
	return time.Duration(v).Round(10 * time.Nanosecond).String()
}

// routeOf names dir's file system and says where fs.File's calls go there:
// the figures of the file cases hold for that file system only (tmpfs, the
// temporary directory of many distributions, reads by system calls).
func routeOf(dir string) (fileSystem, route string) {
	tmp, err := os.CreateTemp(dir, "route-")
	if err != nil {
		return "unknown", err.Error()
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	f, err := fs.OpenFile(tmp.Name(), os.O_RDWR, 0)
	if err != nil {
		return "unknown", err.Error()
	}
	defer f.Close()
	r := f.Route()
	return r.FileSystem, fmt.Sprintf("read %s, write %s, sync %s", r.Read, r.Write, r.Sync)
}
