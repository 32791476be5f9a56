package main

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
	"github.com/goaio/uring/ops"
	"golang.org/x/sys/unix"
)

// directFlag is O_DIRECT where the OS has it.
const directFlag = syscall.O_DIRECT

func alignedBuffer(n, align int) []byte { return fs.AlignedBuffer(n, align) }

// directAlign is the alignment O_DIRECT needs on both files' devices (statx
// STATX_DIOALIGN, Linux 6.1), at least a page: buffers, offsets and lengths
// all use it.
func directAlign(files ...*os.File) int {
	align := fs.DefaultDirectAlign
	for _, f := range files {
		var st unix.Statx_t
		if unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st) != nil ||
			st.Mask&unix.STATX_DIOALIGN == 0 {
			continue
		}
		align = max(align, int(st.Dio_mem_align), int(st.Dio_offset_align))
	}
	return align
}

// dataExtents lists the runs of data in f with SEEK_DATA and SEEK_HOLE, as
// cp does, so holes are neither read nor written and the copy stays sparse.
// A file system without them gets one extent: the whole file.
func dataExtents(f *os.File, size int64) ([]extent, error) {
	var out []extent
	for off := int64(0); off < size; {
		data, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) { // only a hole from off to the end
			break
		}
		if err != nil {
			if off == 0 && (errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP)) {
				return []extent{{0, size}}, nil
			}
			return nil, err
		}
		hole, err := f.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		if hole <= data { // a file growing under us: take the rest
			hole = size
		}
		out = append(out, extent{data, min(hole, size)})
		off = hole
	}
	return out, nil
}

// preadOnce is one pread(2), for O_DIRECT reads whose retry would be
// unaligned.
func preadOnce(f *os.File, b []byte, off int64) (int, error) {
	for {
		n, err := syscall.Pread(int(f.Fd()), b, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "read", Path: f.Name(), Err: err}
		}
		return n, nil
	}
}

// ringCopy copies plan through a ring of its own: cpDepth workers each own
// a registered buffer and submit a linked ReadFixed -> WriteFixed pair per
// span, so up to cpDepth spans are in flight and the write of one span
// needs no trip back to Go after its read. The ring is private because
// registered buffers belong to the whole ring (the process-wide Default is
// shared with fs and net).
func (c *copier) ringCopy(ctx context.Context, plan []span) error {
	if len(plan) == 0 {
		return nil
	}
	r, err := uring.New(uring.WithEntries(4 * cpDepth))
	if err != nil {
		return errNoRing
	}
	defer r.Close()
	depth := min(cpDepth, len(plan))
	mem := alignedBuffer(depth*cpChunk, max(c.align, fs.DefaultDirectAlign))
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = mem[i*cpChunk : (i+1)*cpChunk : (i+1)*cpChunk]
	}
	// Registered pages count against RLIMIT_MEMLOCK, so registration can
	// fail under a small limit: plain Read and Write then.
	fixed := r.RegisterBuffers(bufs) == nil

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for w := range depth {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(plan)) {
					return
				}
				if err := c.ringSpan(ctx, r, fixed, w, bufs[w], plan[i]); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// ringSpan copies one span with buffer w. A short read (the end of the file,
// or a file that shrank) breaks the link: the kernel cancels the write, and
// the span is finished here with what the read got.
func (c *copier) ringSpan(ctx context.Context, r *uring.Ring, fixed bool, w int, buf []byte, s span) error {
	inFd, outFd := int(c.in.Fd()), int(c.out.Fd())
	read := func(b []byte, off int64) ops.Op {
		if fixed {
			return ops.ReadFixed(inFd, b, off, w)
		}
		return ops.Read(inFd, b, off)
	}
	write := func(b []byte, off int64) ops.Op {
		if fixed {
			return ops.WriteFixed(outFd, b, off, w)
		}
		return ops.Write(outFd, b, off)
	}
	b := buf[:s.n]
	batch := [2]ops.Op{read(b, s.off).Link(), write(b, s.off)}
	var res [2]uring.Result
	if err := r.DoBatch(ctx, batch[:], res[:]); err != nil {
		return cpErrorf("error copying '%s' to '%s': %s", c.src, c.dst, errText(err))
	}
	if err := res[0].Err(); err != nil {
		return cpErrorf("error reading '%s': %s", c.src, errText(err))
	}
	got, written := res[0].N(), 0
	if got == s.n {
		if err := res[1].Err(); err != nil {
			return cpErrorf("error writing '%s': %s", c.dst, errText(err))
		}
		written = res[1].N()
	} else if c.align == 1 {
		// A buffered read may stop early without being at the end:
		// read on until the span is full or the file ends.
		for got < s.n {
			rr, err := r.Do(ctx, read(b[got:], s.off+int64(got)))
			if err != nil {
				return cpErrorf("error reading '%s': %s", c.src, errText(err))
			}
			if rr.N() == 0 {
				break
			}
			got += rr.N()
		}
	}
	if got == 0 {
		return nil
	}
	end := got
	if got < s.n {
		end = c.padTail(b, got)
	}
	for written < end {
		wr, err := r.Do(ctx, write(b[written:end], s.off+int64(written)))
		if err == nil && wr.N() == 0 {
			err = syscall.EIO
		}
		if err != nil {
			return cpErrorf("error writing '%s': %s", c.dst, errText(err))
		}
		written += wr.N()
	}
	c.progress(got)
	return nil
}

// errNoKernelCopy: copy_file_range cannot copy these files; the ring will.
var errNoKernelCopy = errors.New("copy_file_range unavailable")

// kernelCallMax bounds one copy_file_range call, so the progress bar moves.
const kernelCallMax = 256 << 20

// kernelCopy copies the data with copy_file_range(2): adjacent spans merge
// into one call (up to kernelCallMax), as cp copies a file in one.
func (c *copier) kernelCopy(plan []span) error {
	in, out := int(c.in.Fd()), int(c.out.Fd())
	var runs []span
	for _, s := range plan {
		if k := len(runs) - 1; k >= 0 && runs[k].off+int64(runs[k].n) == s.off && runs[k].n+s.n <= kernelCallMax {
			runs[k].n += s.n
			continue
		}
		runs = append(runs, s)
	}
	first := true
	for _, s := range runs {
		roff, woff, left := s.off, s.off, s.n
		for left > 0 {
			n, err := unix.CopyFileRange(in, &roff, out, &woff, left, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				if first && (err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP) {
					return errNoKernelCopy
				}
				return rwError(c.src, c.dst, err)
			}
			first = false
			if n == 0 {
				break // the source shrank under us
			}
			left -= n
			c.progress(n)
		}
	}
	return nil
}
