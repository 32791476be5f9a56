// Package cbench runs plain C liburing loops, compiled into the same test
// binary as the Go benchmarks, so that a benchmark can report the Ring's
// throughput as a ratio of what C achieves on the same machine in the same
// run. It is for benchmarks only: nothing in the module's API imports it.
//
// Each loop times itself in C (clock_gettime), so the figure excludes the cgo
// crossing that starts it. liburing is linked statically, as in the root
// package; the uring_dynamic build tag links the shared library instead.
package cbench

import "time"

// BlockSize is the size of every read the read loops issue, and the
// alignment of their offsets and buffers.
const BlockSize = 4096

// Result is one loop's outcome: Ops operations completed in Elapsed.
type Result struct {
	Ops     uint64
	Elapsed time.Duration
}

// Rate returns operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Add sums two measurements of the same loop (for example one taken before
// and one after the measurement it is compared with).
func (r Result) Add(o Result) Result {
	return Result{Ops: r.Ops + o.Ops, Elapsed: r.Elapsed + o.Elapsed}
}

// ReadRings runs Read on rings loops at once, each with its own ring and
// OS thread (one ring per core when rings is GOMAXPROCS) at queue depth qd:
// what C liburing does with a ring per core. Ops are summed; Elapsed is the
// longest loop's.
func ReadRings(fd int, size int64, rings, qd int, d time.Duration, seed uint64) (Result, error) {
	type out struct {
		r   Result
		err error
	}
	ch := make(chan out, rings)
	for i := range rings {
		go func() {
			r, err := Read(fd, size, qd, d, seed+uint64(i)*0x9E3779B97F4A7C15)
			ch <- out{r, err}
		}()
	}
	var total Result
	var first error
	for range rings {
		o := <-ch
		total.Ops += o.r.Ops
		total.Elapsed = max(total.Elapsed, o.r.Elapsed)
		if first == nil {
			first = o.err
		}
	}
	return total, first
}
