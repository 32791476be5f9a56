package ringfd

import (
	"io"
	"sync"

	"github.com/goaio/uring"
)

// UnwrapLimited returns r's limit when it is an *io.LimitedReader, as std's
// copy fast paths honour it; otherwise no limit.
func UnwrapLimited(r io.Reader) (*io.LimitedReader, io.Reader, int64) {
	if lr, ok := r.(*io.LimitedReader); ok {
		return lr, lr.R, lr.N
	}
	return nil, r, 1<<63 - 1
}

// WriterOnly and ReaderOnly hide a type's ReadFrom and WriteTo, so io.Copy
// cannot recurse into the caller's own.
type WriterOnly struct{ io.Writer }
type ReaderOnly struct{ io.Reader }

// SpliceChunk bounds one splice(2): a pipe moves at most its capacity per call.
const SpliceChunk = 1 << 20

var (
	defaultOnce sync.Once
	defaultRing *uring.Ring
)

// RingFor returns the Ring a descriptor uses: r, or uring.Default(); nil
// (the package's std fallback) with fallback set or where io_uring is
// unavailable.
func RingFor(r *uring.Ring, fallback bool) *uring.Ring {
	if fallback {
		return nil
	}
	if r != nil {
		return r
	}
	defaultOnce.Do(func() { defaultRing, _ = uring.Default() })
	return defaultRing
}
