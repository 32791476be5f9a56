package fs

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// ReadAtv reads len(bufs[i]) bytes at offs[i] for every i in one submission,
// and returns how many bytes each read got and its error (io.EOF for a range
// that ends past the end of the file), like a ReadAt per range.
func (f *File) ReadAtv(ctx context.Context, bufs [][]byte, offs []int64) ([]int, []error) {
	ns, errs := make([]int, len(bufs)), make([]error, len(bufs))
	if f == nil {
		for i := range bufs {
			errs[i] = os.ErrInvalid // os.File's ReadAt on nil
		}
		return ns, errs
	}
	if len(offs) != len(bufs) {
		for i := range errs {
			errs[i] = f.pathErr("readat", errors.New("fs: ReadAtv: bufs and offs differ in length"))
		}
		return ns, errs
	}
	if f.pfd.Ring == nil {
		for i := range bufs {
			ns[i], errs[i] = f.f.ReadAt(bufs[i], offs[i])
		}
		return ns, errs
	}
	if f.rule.read == viaSyscall || f.rule.read == viaRawRead {
		// tmpfs, overlayfs, FUSE: the ring would hand each read to a worker
		// thread, so each is the system call ReadAt makes.
		for i := range bufs {
			ns[i], errs[i] = f.ReadAtContext(ctx, bufs[i], offs[i])
		}
		return ns, errs
	}
	batch := make([]ops.Op, 0, len(bufs))
	for i, b := range bufs {
		if offs[i] < 0 {
			errs[i] = f.pathErr("readat", errNegativeOffset)
			continue
		}
		batch = append(batch, ops.Read(f.pfd.Sysfd, b[:min(len(b), maxRW)], offs[i])) // the rest as ReadAt
	}
	if f.pfd.Incref() != nil {
		for i := range errs {
			errs[i] = f.pathErr("read", os.ErrClosed)
		}
		return ns, errs
	}
	res := make([]uring.Result, len(batch))
	err := doBatches(ctx, f.pfd.Ring, batch, res)
	f.pfd.Decref()
	j := 0
	for i, b := range bufs {
		if errs[i] != nil {
			continue
		}
		r := res[j]
		j++
		if r.Err() != nil {
			errs[i] = f.pathErr("read", batchOpErr(r, err))
			continue
		}
		ns[i] = r.N()
		if ns[i] < len(b) {
			// Finish a short range the way ReadAt does.
			n, e := f.ReadAtContext(ctx, b[ns[i]:], offs[i]+int64(ns[i]))
			ns[i] += n
			errs[i] = e
		}
	}
	return ns, errs
}

// notRun is the result doBatches leaves for an op it never submitted; a
// cancelled op gets the same from the kernel.
var notRun = uring.Result{Res: -int32(unix.ECANCELED)}

// doBatches submits batch in submissions of as many ops as r takes at once
// (a small ring's SQ or request table is smaller than some batches). res[i]
// is notRun for an op not submitted before an error.
func doBatches(ctx context.Context, r *uring.Ring, batch []ops.Op, res []uring.Result) error {
	res = res[:len(batch)]
	for i := range res {
		res[i] = notRun
	}
	most := r.MaxBatch()
	for len(batch) > 0 {
		n := min(len(batch), most)
		if err := r.DoBatch(ctx, batch[:n], res[:n]); err != nil {
			return err
		}
		batch, res = batch[n:], res[n:]
	}
	return nil
}

// batchOpErr is the error of one op of a doBatches call that returned
// batchErr: the batch's error for an op cancelled or never submitted (the
// Ring's Close cancels without one), else the op's own.
func batchOpErr(res uring.Result, batchErr error) error {
	err := res.Err()
	if errors.Is(err, syscall.ECANCELED) {
		err = batchErr
		if err == nil {
			err = uring.ErrClosed
		}
	}
	if errors.Is(err, uring.ErrClosed) {
		err = os.ErrClosed
	}
	return err
}

// checkPath returns the error os.Open gives for name before any system call,
// or the one the kernel gives for an empty name, which an Openat op cannot
// carry (the C string would end at the first NUL).
func checkPath(name string) error {
	if name == "" {
		return syscall.ENOENT
	}
	if strings.IndexByte(name, 0) >= 0 {
		return syscall.EINVAL
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
	for lo := 0; lo < len(paths); lo += filesAtOnce {
		hi := min(lo+filesAtOnce, len(paths))
		readFilesChunk(ctx, r, paths[lo:hi], datas[lo:hi], errs[lo:hi])
	}
	return datas, errs
}

// filesAtOnce bounds the descriptors ReadFiles holds open at a time, so that
// a long list does not run into RLIMIT_NOFILE (1024 by default) where a loop
// of os.ReadFile would not.
const filesAtOnce = 256

// readFilesChunk does ReadFiles for up to filesAtOnce paths.
func readFilesChunk(ctx context.Context, r *uring.Ring, paths []string, datas [][]byte, errs []error) {
	// Open everything the kernel can be asked to open.
	fds := make([]int, len(paths))
	batch, idx := make([]ops.Op, 0, len(paths)), make([]int, 0, len(paths))
	for i, p := range paths {
		fds[i] = -1
		if err := checkPath(p); err != nil {
			errs[i] = &os.PathError{Op: "open", Path: p, Err: err}
			continue
		}
		batch = append(batch, ops.Openat(unix.AT_FDCWD, p, unix.O_RDONLY|unix.O_CLOEXEC, 0))
		idx = append(idx, i)
	}
	res := make([]uring.Result, len(batch))
	err := doBatches(ctx, r, batch, res)
	for j, i := range idx {
		if e := batchOpErr(res[j], err); e != nil {
			errs[i] = &os.PathError{Op: "open", Path: paths[i], Err: e}
			continue
		}
		fds[i] = res[j].N()
	}
	defer closeFds(r, fds)

	// Size the regular files; anything else goes the slow way.
	sts := make([]unix.Statx_t, len(paths))
	batch, idx = batch[:0], idx[:0]
	for i, fd := range fds {
		if fd >= 0 {
			batch = append(batch, ops.Statx(fd, "", unix.AT_EMPTY_PATH,
				unix.STATX_TYPE|unix.STATX_SIZE|unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE, &sts[i]))
			idx = append(idx, i)
		}
	}
	err = doBatches(ctx, r, batch, res)
	reads, ridx := batch[:0], make([]int, 0, len(idx))
	for j, i := range idx {
		st := &sts[i]
		if e := res[j].Err(); errors.Is(e, syscall.ECANCELED) {
			errs[i] = &os.PathError{Op: "read", Path: paths[i], Err: batchOpErr(res[j], err)}
			continue
		}
		if res[j].Err() != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > 1<<30 {
			datas[i], errs[i] = ReadFile(paths[i], WithRing(r)) // not a plain regular file
			continue
		}
		if m := mountOf(fds[i], mountKey(st)); m.noNowait() {
			// tmpfs, overlayfs, FUSE: the ring would hand the read to a
			// worker thread; the system call os makes costs less.
			datas[i], errs[i] = readOpenedOn(r, fds[i], paths[i], true, int64(st.Size), m)
			continue
		}
		// One byte more than the size: a full read means the file grew.
		datas[i] = make([]byte, st.Size+1)
		reads = append(reads, ops.Read(fds[i], datas[i], 0))
		ridx = append(ridx, i)
	}
	err = doBatches(ctx, r, reads, res)
	for j, i := range ridx {
		switch n := res[j].N(); {
		case res[j].Err() != nil:
			datas[i], errs[i] = nil, &os.PathError{Op: "read", Path: paths[i], Err: batchOpErr(res[j], err)}
		case n == len(datas[i]):
			datas[i], errs[i] = ReadFile(paths[i], WithRing(r)) // it grew: read it all the usual way
		default:
			datas[i] = datas[i][:n]
		}
	}
}

// closeFds closes the descriptors ReadFiles opened, in few submissions, each
// exactly once: a second close(2) could close a number reused meanwhile.
func closeFds(r *uring.Ring, fds []int) {
	open := make([]int, 0, len(fds))
	batch := make([]ops.Op, 0, len(fds))
	for _, fd := range fds {
		if fd >= 0 {
			open = append(open, fd)
			batch = append(batch, ops.Close(fd))
		}
	}
	res := make([]uring.Result, len(batch))
	_ = doBatches(context.Background(), r, batch, res)
	for j, fd := range open {
		// Not submitted, or cancelled before it ran (the Ring closed): still
		// open. Any other result released the number, error or not.
		if res[j].Res == notRun.Res {
			unix.Close(fd)
		}
	}
}
