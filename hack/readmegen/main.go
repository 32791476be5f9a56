// Command readmegen measures and rewrites the README's result tables: the
// `uring bench` table between <!-- bench:begin --> and <!-- bench:end -->,
// and the Go benchmarks' table between <!-- gobench:begin --> and
// <!-- gobench:end -->, each under the date, machine, kernel, Go, file system
// and commit it was measured on. `make readme-results` runs it; `make test`
// runs it with -quick on a copy of the README, to check that it works (the
// figures of a quick run mean nothing).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// goBench is one row of the Go benchmarks' table: the benchmark (a -bench
// pattern in pkg) and what it measures.
type goBench struct {
	pkg, pattern, what string
}

var goBenches = []goBench{
	{".", "^BenchmarkNOP$", "`Do(Nop)` from 256 goroutines, against C liburing"},
	{".", "^BenchmarkReadWarm64$", "4 KiB random reads of a warm file on the ring, 64 goroutines, against C and `os.File.ReadAt`"},
	{".", "^BenchmarkReadWarm1$", "the same from 1 goroutine"},
	{".", "^BenchmarkReadDirect64$", "the same with `O_DIRECT`, 64 goroutines"},
	{".", "^BenchmarkFSReadAtWarm64$", "`fs.File.ReadAt`, warm file, 64 goroutines, against `os.File`"},
	{".", "^BenchmarkFSReadAtCold64$", "`fs.File.ReadAt` of a file kept out of the page cache, 64 goroutines"},
	{".", "^BenchmarkFSReadAtDirect64$", "`fs.File.ReadAt` with `O_DIRECT`, 64 goroutines"},
	{".", "^BenchmarkFSReadFile10k$", "`fs.ReadFile` of 10,000 small files, against `os.ReadFile`"},
	{"./internal/netbench", "^BenchmarkNetEcho$", "TCP echo, 1,000 connections, 128 B ping-pong, server in a child process"},
	{"./internal/netbench", "^BenchmarkEchoCClient$", "the same driven by a light C client (one thread, epoll), against std and two C servers: epoll, and a loop owning its io_uring"},
	{"./internal/netbench", "^BenchmarkNetHTTP$", "net/http \"hello\" under `wrk -c256`"},
	{"./internal/netbench", "^BenchmarkNetIdleRSS$", "10,000 idle echo connections: server RSS, live heap per connection"},
	{"./internal/netbench", "^BenchmarkPacketEcho$", "UDP and unixgram echo: 4 readers on one socket, 64 clients of 128 B"},
	{"./internal/loopload", "^BenchmarkLoopNop$", "package loop: NOPs from loop callbacks, 256 in flight, against C liburing at batch 32"},
	{"./internal/loopload", "^BenchmarkLoopRandRead$", "package loop: 4 KiB reads of a warm file from loop callbacks, 64 in flight, against C liburing with 2 threads x QD32"},
}

var quickBenches = []goBench{{".", "^BenchmarkNOP$", "`Do(Nop)` from 256 goroutines, against C liburing"}}

func main() {
	readme := flag.String("readme", "README.md", "the README to rewrite")
	quick := flag.Bool("quick", false, "a check that it runs: tiny runs, whose figures mean nothing")
	benchFlags := flag.String("benchflags", "", "more flags for uring bench (e.g. --dir /mnt/disk)")
	flag.Parse()
	if err := run(*readme, *quick, strings.Fields(*benchFlags)); err != nil {
		fmt.Fprintln(os.Stderr, "readmegen:", err)
		os.Exit(1)
	}
}

func run(readme string, quick bool, benchFlags []string) error {
	src, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	// Before the runs: uring bench rewrites docs/uring-bench.svg, which is
	// tracked, and the header says whether the commit was clean.
	head := header()
	args := []string{"run", "./cmd/uring", "bench", "--json"}
	benches, benchtime := goBenches, "1s"
	if quick {
		args = append(args, "--only", "nop,randread", "--duration", "50ms", "--rounds", "1", "--size", "16777216")
		benches, benchtime = quickBenches, "100x"
	} else {
		args = append(args, "--plot", "docs/uring-bench.svg")
	}
	args = append(args, benchFlags...)
	out, err := command("go", args...)
	if err != nil {
		return fmt.Errorf("uring bench: %v", err)
	}
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return fmt.Errorf("uring bench --json: %v", err)
	}
	rows, err := runGoBenches(benches, benchtime)
	if err != nil {
		return err
	}
	head = strings.Replace(head, "{fs}", rep.FileSystem, 1)
	src, err = replace(src, "bench", head+"\n\n"+benchTable(&rep))
	if err != nil {
		return err
	}
	src, err = replace(src, "gobench", head+"\n\n"+goBenchTable(benches, rows))
	if err != nil {
		return err
	}
	return os.WriteFile(readme, src, 0o644)
}

// command runs name with args, its stderr passed through, and returns its
// stdout.
func command(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

// header is the line that says where and when the figures were measured.
// The file system ({fs}) is known once uring bench has run.
func header() string {
	commit, _ := command("git", "rev-parse", "--short", "HEAD")
	dirty := ""
	if st, _ := command("git", "status", "--porcelain", "--untracked-files=no"); len(bytes.TrimSpace(st)) > 0 {
		dirty = " with uncommitted changes"
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("Measured %s on %s (%d CPUs), Linux %s, %s, data on %s, commit %s%s.",
		time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), bytes.TrimSpace(kernel),
		runtime.Version(), "{fs}", bytes.TrimSpace(commit), dirty)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimLeft(v, " \t:"))
		}
	}
	return runtime.GOARCH
}

// replace puts body between name's markers.
func replace(src []byte, name, body string) ([]byte, error) {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	i, j := bytes.Index(src, []byte(begin)), bytes.Index(src, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("no %s ... %s in the README", begin, end)
	}
	var b bytes.Buffer
	b.Write(src[:i+len(begin)])
	b.WriteString("\n" + body + "\n")
	b.Write(src[j:])
	return b.Bytes(), nil
}

type benchSide struct {
	OpsPerSec float64 `json:"ops_per_sec"`
	CPUPerOp  float64 `json:"cpu_per_op_ns"`
	P99       float64 `json:"p99_ns"`
	Threads   int     `json:"threads"`
	Unit      string  `json:"unit"`
}

type benchReport struct {
	FileSystem string `json:"file_system"`
	Cases      []struct {
		Case  string     `json:"case"`
		Uring *benchSide `json:"uring"`
		Std   *benchSide `json:"std"`
		Ratio float64    `json:"ratio"`
	} `json:"cases"`
}

func benchTable(rep *benchReport) string {
	var b strings.Builder
	b.WriteString("| case | io_uring | std | ratio | CPU/op io_uring / std | p99 io_uring / std | threads started io_uring / std |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, c := range rep.Cases {
		if c.Uring == nil || c.Std == nil {
			continue
		}
		cpu := func(s *benchSide) string {
			if s.Unit == "B" {
				return duration(s.CPUPerOp * 1e6) // an op is a byte: per MB
			}
			return duration(s.CPUPerOp)
		}
		perMB := ""
		if c.Uring.Unit == "B" {
			perMB = " per MB"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | **%.2fx** | %s / %s%s | %s / %s | %d / %d |\n", c.Case,
			rate(c.Uring), rate(c.Std), c.Ratio, cpu(c.Uring), cpu(c.Std), perMB,
			latency(c.Uring.P99), latency(c.Std.P99), c.Uring.Threads, c.Std.Threads)
	}
	return strings.TrimRight(b.String(), "\n")
}

func rate(s *benchSide) string {
	v := s.OpsPerSec
	if s.Unit == "B" {
		return fmt.Sprintf("%.0f MB/s", v/1e6)
	}
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k/s", v/1e3)
	}
	return fmt.Sprintf("%.0f /s", v)
}

// latency is a p99, or "-" where the side has none (the loop cases count
// ops in windows).
func latency(ns float64) string {
	if ns == 0 {
		return "-"
	}
	return duration(ns)
}

func duration(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// benchLine is a Go benchmark's result line: its name and the metrics
// after the iteration count.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// runGoBenches runs the benchmarks, one package at a time, and returns the
// metrics of each result line by benchmark name.
func runGoBenches(benches []goBench, benchtime string) (map[string][]string, error) {
	byPkg := map[string][]string{}
	var pkgs []string
	for _, gb := range benches {
		if byPkg[gb.pkg] == nil {
			pkgs = append(pkgs, gb.pkg)
		}
		byPkg[gb.pkg] = append(byPkg[gb.pkg], strings.Trim(gb.pattern, "^$"))
	}
	rows := map[string][]string{}
	for _, pkg := range pkgs {
		pattern := "^(" + strings.Join(byPkg[pkg], "|") + ")$"
		out, err := command("go", "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", "1", "-timeout", "30m", pkg)
		if err != nil {
			return nil, fmt.Errorf("go test -bench %s %s: %v\n%s", pattern, pkg, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			m := benchLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			rows[m[1]] = metrics(m[2])
		}
	}
	return rows, nil
}

// metrics formats a result line's metrics, leaving out time and memory per
// iteration (an iteration is a whole comparison run here).
func metrics(s string) []string {
	f := strings.Fields(s)
	var out []string
	for i := 0; i+1 < len(f); i += 2 {
		unit := f[i+1]
		if unit == "ns/op" || unit == "B/op" || unit == "allocs/op" {
			continue
		}
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		val := strconv.FormatFloat(v, 'g', 3, 64)
		switch {
		case (strings.Contains(unit, "/s") || strings.HasSuffix(unit, "IOPS")) && v >= 1e6:
			val = strconv.FormatFloat(v/1e6, 'f', 2, 64) + " M"
		case (strings.Contains(unit, "/s") || strings.HasSuffix(unit, "IOPS")) && v >= 1e3:
			val = strconv.FormatFloat(v/1e3, 'f', 1, 64) + " k"
		case v >= 1000:
			val = strconv.FormatFloat(v, 'f', 0, 64)
		}
		if strings.Contains(unit, "x") && !strings.Contains(unit, "/") || strings.HasSuffix(unit, "xSTD") {
			val = "**" + val + "**"
		}
		out = append(out, val+" "+unit)
	}
	return out
}

func goBenchTable(benches []goBench, rows map[string][]string) string {
	var b strings.Builder
	b.WriteString("| benchmark | what | figures (x: ratio to the named baseline) |\n|---|---|---|\n")
	for _, gb := range benches {
		name := strings.Trim(gb.pattern, "^$")
		var found []string
		for n := range rows {
			if n == name || strings.HasPrefix(n, name+"/") {
				found = append(found, n)
			}
		}
		if len(found) == 0 {
			fmt.Fprintf(&b, "| `%s` | %s | skipped (see the run's log) |\n", name, gb.what)
			continue
		}
		sort.Strings(found)
		for _, n := range found {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", strings.TrimPrefix(n, "Benchmark"), gb.what, strings.Join(rows[n], ", "))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
