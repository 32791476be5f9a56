//go:build !linux || !cgo

package uring

import (
	"errors"
	"runtime"
	"syscall"
	"unsafe"
)

// Without Linux and cgo there is no io_uring: newKernelRing reports why, and
// the rest is never reached because New fails.

var errNoKernelRing = func() error {
	if runtime.GOOS != "linux" {
		return errors.New("io_uring is Linux only; this is " + runtime.GOOS)
	}
	return errors.New("built with CGO_ENABLED=0: liburing needs cgo")
}()

type kernelRing struct {
	features  uint32
	sqEntries int
	cqEntries int
}

const (
	setupSQPoll       = 1 << 1
	setupSubmitAll    = 1 << 7
	setupClamp        = 1 << 4
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
	featNoDrop        = 1 << 1
)

func newKernelRing(entries, cqEntries uint32, flags uint32, sqIdleMs uint32, sqCPU int, wqFd int) (*kernelRing, error) {
	return nil, errNoKernelRing
}

func (k *kernelRing) submit(staged unsafe.Pointer, n int, out unsafe.Pointer, max int) (int, int, error) {
	return 0, n, errNoKernelRing
}
func (k *kernelRing) wait() error                                   { return errNoKernelRing }
func (k *kernelRing) reap(out unsafe.Pointer, max int) int          { return 0 }
func (k *kernelRing) close()                                        {}
func (k *kernelRing) registerEventfd(fd int) error                  { return errNoKernelRing }
func (k *kernelRing) fd() int                                       { return -1 }
func (k *kernelRing) counters() kernelCounters                      { return kernelCounters{} }
func (k *kernelRing) probe(supported []byte) int                    { return 0 }
func (k *kernelRing) registerFiles(fds []int32) error               { return errNoKernelRing }
func (k *kernelRing) registerFilesSparse(n int) error               { return errNoKernelRing }
func (k *kernelRing) updateFiles(off int, fds []int32) (int, error) { return 0, errNoKernelRing }
func (k *kernelRing) unregisterFiles() error                        { return errNoKernelRing }
func (k *kernelRing) registerBuffers(pairs []uint64) error          { return errNoKernelRing }
func (k *kernelRing) unregisterBuffers() error                      { return errNoKernelRing }

type cBufRing struct{}

func (k *kernelRing) newBufRing(entries, size int, group uint16, flags uint16) (*cBufRing, error) {
	return nil, errNoKernelRing
}
func (b *cBufRing) bytes(bid uint16, n int) []byte        { return nil }
func (b *cBufRing) bytesAt(bid uint16, off, n int) []byte { return nil }
func (b *cBufRing) recycle(bid uint16)                    {}
func (b *cBufRing) free(k *kernelRing)                    {}

func cAlloc(n int) unsafe.Pointer { return nil }
func cFree(p unsafe.Pointer)      {}

func memlockLimit() (uint64, bool) { return 0, false }

func newLocalKernelRing(entries, cqEntries uint32) (*kernelRing, localView, error) {
	return nil, localView{}, errNoKernelRing
}

func enterRing(fd int, submit, min, flags uint32) syscall.Errno { return syscall.ENOSYS }
