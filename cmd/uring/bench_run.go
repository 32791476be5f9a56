package main

import (
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goaio/uring/internal/loopback"
)

// sample is one side of one case measured once.
type sample struct {
	ops     uint64
	elapsed time.Duration
	cpu     time.Duration // the subject's user+system time over the run (see measure)
	lat     []time.Duration
	threads int // OS threads the subject started during the run
	// readBytes is what the process had read from storage during the run
	// (/proc/self/io): reads the page cache served count nothing.
	readBytes uint64
}

func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ops) / s.elapsed.Seconds()
}

// step is one goroutine's operation; n is what it counts for (bytes for
// copies, 1 otherwise).
type step func() (n uint64, err error)

// latencyEvery samples one operation's latency in this many, up to
// maxLatencySamples per goroutine.
const (
	latencyEvery      = 8
	maxLatencySamples = 1 << 16
)

// subject is the process a sample's CPU time and threads are counted for.
type subject struct {
	cpu     func() time.Duration
	threads func() int
}

// self is this process.
var self = subject{cpu: processCPU, threads: threads}

// measure runs n goroutines calling their step for d and counts, with the
// CPU time and new threads of of.
func measure(n int, d time.Duration, newStep func(i int) (step, error), of subject) (sample, error) {
	steps := make([]step, n)
	for i := range steps {
		st, err := newStep(i)
		if err != nil {
			return sample{}, err
		}
		steps[i] = st
	}
	var (
		stop     atomic.Bool
		total    atomic.Uint64
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		errOnce  sync.Once
		firstErr error
	)
	start := make(chan struct{})
	for _, st := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var ops uint64
			local := make([]time.Duration, 0, 1024)
			for i := 0; !stop.Load(); i++ {
				var t0 time.Time
				if i%latencyEvery == 0 {
					t0 = time.Now()
				}
				k, err := st()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					break
				}
				if i%latencyEvery == 0 && len(local) < maxLatencySamples {
					local = append(local, time.Since(t0))
				}
				ops += k
			}
			total.Add(ops)
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	cpu0, th0, rb0 := of.cpu(), of.threads(), readBytes()
	t0 := time.Now()
	close(start)
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	s := sample{ops: total.Load(), elapsed: time.Since(t0), cpu: of.cpu() - cpu0, lat: lat, threads: of.threads() - th0,
		readBytes: readBytes() - rb0}
	return s, firstErr
}

var threadsRe = regexp.MustCompile(`(?m)^Threads:\s+(\d+)`)

// threads returns the process's OS threads (0 where /proc is missing).
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	m := threadsRe.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

var readBytesRe = regexp.MustCompile(`(?m)^read_bytes:\s+(\d+)`)

// readBytes returns the bytes the process (all its threads, io_uring's
// workers among them) has had read from storage: read_bytes of
// /proc/self/io, 0 where it is missing.
func readBytes() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	m := readBytesRe.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return n
}

// percentile returns the p-th percentile of d (sorted in place).
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(p / 100 * float64(len(d)-1))
	return d[i]
}

// median and spread of rates: the middle value, and (max-min)/median.
func median(v []float64) float64 { return loopback.Median(v) }

func spread(v []float64) float64 {
	m := median(v)
	if len(v) == 0 || m == 0 {
		return 0
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return (hi - lo) / m
}

// osRelease is the kernel release ("" where /proc has none).
func osRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return strings.TrimSpace(string(b))
}
