package fs

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// ReadAtv reads len(bufs[i]) bytes at offs[i] for every i in one submission,
// and returns how many bytes each read got and its error (io.EOF for a range
// that ends past the end of the file), like a ReadAt per range.
func (f *File) ReadAtv(ctx context.Context, bufs [][]byte, offs []int64) ([]int, []error) {
	ns, errs := make([]int, len(bufs)), make([]error, len(bufs))
	if len(offs) != len(bufs) {
		for i := range errs {
			errs[i] = f.pathErr("readat", errors.New("fs: ReadAtv: bufs and offs differ in length"))
		}
		return ns, errs
	}
	if f.ring == nil {
		for i := range bufs {
			ns[i], errs[i] = f.f.ReadAt(bufs[i], offs[i])
		}
		return ns, errs
	}
	batch := make([]ops.Op, 0, len(bufs))
	for i, b := range bufs {
		if offs[i] < 0 {
			errs[i] = f.pathErr("readat", errNegativeOffset)
			continue
		}
		batch = append(batch, ops.Read(f.fd, b, offs[i]))
	}
	if !f.ref.Incref() {
		for i := range errs {
			errs[i] = f.pathErr("read", os.ErrClosed)
		}
		return ns, errs
	}
	res := make([]uring.Result, len(batch))
	err := doBatches(ctx, f.ring, batch, res)
	f.ref.Decref()
	j := 0
	for i, b := range bufs {
		if errs[i] != nil {
			continue
		}
		r := res[j]
		j++
		switch {
		case err != nil && r.Res == 0 && r.Flags == 0:
			errs[i] = f.pathErr("read", err)
		case r.Err() != nil:
			errs[i] = f.pathErr("read", r.Err())
		default:
			ns[i] = r.N()
			if ns[i] < len(b) {
				// Finish a short range the way ReadAt does.
				n, e := f.ReadAtContext(ctx, b[ns[i]:], offs[i]+int64(ns[i]))
				ns[i] += n
				errs[i] = e
			}
		}
	}
	return ns, errs
}

// maxBatch bounds one submission: a Ring refuses batches larger than its SQ.
const maxBatch = 128

// doBatches submits batch in submissions of at most maxBatch ops.
func doBatches(ctx context.Context, r *uring.Ring, batch []ops.Op, res []uring.Result) error {
	for len(batch) > 0 {
		n := min(len(batch), maxBatch)
		if err := r.DoBatch(ctx, batch[:n], res[:n]); err != nil {
			return err
		}
		batch, res = batch[n:], res[n:]
	}
	return nil
}

// ReadFiles reads many whole files, like os.ReadFile for each, in a few
// submissions for all of them (open, size, read, close) instead of five
// system calls per file. datas[i] and errs[i] are what os.ReadFile(paths[i])
// would return.
func ReadFiles(ctx context.Context, paths []string, opts ...Option) (datas [][]byte, errs []error) {
	datas, errs = make([][]byte, len(paths)), make([]error, len(paths))
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := o.ring
	if r == nil && !o.fallback {
		r, _ = uring.Default()
	}
	if r == nil || o.fallback {
		for i, p := range paths {
			datas[i], errs[i] = ReadFile(p, WithoutRing())
		}
		return datas, errs
	}

	// Open everything.
	batch := make([]ops.Op, len(paths))
	for i, p := range paths {
		batch[i] = ops.Openat(unix.AT_FDCWD, p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	res := make([]uring.Result, len(paths))
	if err := doBatches(ctx, r, batch, res); err != nil {
		closeAll(r, res)
		for i := range errs {
			errs[i] = err
		}
		return datas, errs
	}
	fds := make([]int, len(paths))
	for i := range paths {
		fds[i] = -1
		if e := res[i].Err(); e != nil {
			errs[i] = &os.PathError{Op: "open", Path: paths[i], Err: e}
			continue
		}
		fds[i] = res[i].N()
	}
	defer closeFds(r, fds)

	// Size the regular files; anything else goes the slow way.
	sts := make([]unix.Statx_t, len(paths))
	batch, idx := batch[:0], make([]int, 0, len(paths))
	for i, fd := range fds {
		if fd >= 0 {
			batch = append(batch, ops.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_TYPE|unix.STATX_SIZE, &sts[i]))
			idx = append(idx, i)
		}
	}
	res = res[:len(batch)]
	if err := doBatches(ctx, r, batch, res); err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return datas, errs
	}
	reads, ridx := batch[:0], make([]int, 0, len(idx))
	for j, i := range idx {
		st := &sts[i]
		if res[j].Err() != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > 1<<30 {
			datas[i], errs[i] = ReadFile(paths[i], WithRing(r)) // not a plain regular file
			continue
		}
		// One byte more than the size: a full read means the file grew.
		datas[i] = make([]byte, st.Size+1)
		reads = append(reads, ops.Read(fds[i], datas[i], 0))
		ridx = append(ridx, i)
	}
	res = res[:len(reads)]
	if err := doBatches(ctx, r, reads, res); err != nil {
		for _, i := range ridx {
			datas[i], errs[i] = nil, err
		}
		return datas, errs
	}
	for j, i := range ridx {
		switch n := res[j].N(); {
		case res[j].Err() != nil:
			datas[i], errs[i] = nil, &os.PathError{Op: "read", Path: paths[i], Err: res[j].Err()}
		case n == len(datas[i]):
			datas[i], errs[i] = ReadFile(paths[i], WithRing(r)) // it grew: read it all the usual way
		default:
			datas[i] = datas[i][:n]
		}
	}
	return datas, errs
}

// closeFds closes the descriptors ReadFiles opened, in one submission.
func closeFds(r *uring.Ring, fds []int) {
	batch := make([]ops.Op, 0, len(fds))
	for _, fd := range fds {
		if fd >= 0 {
			batch = append(batch, ops.Close(fd))
		}
	}
	res := make([]uring.Result, len(batch))
	if doBatches(context.Background(), r, batch, res) != nil {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}
}

// closeAll closes the fds that successful opens in res produced.
func closeAll(r *uring.Ring, res []uring.Result) {
	fds := make([]int, len(res))
	for i, x := range res {
		fds[i] = -1
		if x.Res > 0 {
			fds[i] = x.N()
		}
	}
	closeFds(r, fds)
}
