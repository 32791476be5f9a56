//go:build !linux

package fs

import (
	"context"
	"errors"
	"os"
)

// ReadAtv reads len(bufs[i]) bytes at offs[i] for every i, like a ReadAt per
// range. Without io_uring it is exactly that.
func (f *File) ReadAtv(ctx context.Context, bufs [][]byte, offs []int64) ([]int, []error) {
	ns, errs := make([]int, len(bufs)), make([]error, len(bufs))
	if f == nil {
		for i := range bufs {
			errs[i] = os.ErrInvalid // os.File's ReadAt on nil
		}
		return ns, errs
	}
	for i := range bufs {
		if len(offs) != len(bufs) {
			errs[i] = f.pathErr("readat", errors.New("fs: ReadAtv: bufs and offs differ in length"))
			continue
		}
		ns[i], errs[i] = f.f.ReadAt(bufs[i], offs[i])
	}
	return ns, errs
}

// ReadFiles reads many whole files, like os.ReadFile for each.
func ReadFiles(ctx context.Context, paths []string, opts ...Option) ([][]byte, []error) {
	datas, errs := make([][]byte, len(paths)), make([]error, len(paths))
	for i, p := range paths {
		datas[i], errs[i] = ReadFile(p, opts...)
	}
	return datas, errs
}
