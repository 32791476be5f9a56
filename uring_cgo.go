//go:build linux && cgo

package uring

// liburing is linked statically by default, so a built binary needs no liburing
// at run time; the uring_dynamic build tag links the shared library instead.

/*
#cgo !uring_dynamic LDFLAGS: -l:liburing.a
#cgo uring_dynamic LDFLAGS: -luring
#cgo uring_faults CFLAGS: -DURING_FAULTS
#include "uring.h"
*/
import "C"

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelRing is one io_uring instance: liburing's struct io_uring in C memory.
type kernelRing struct {
	u         *C.uring_t
	features  uint32
	sqEntries int
	cqEntries int
}

const (
	setupSQPoll       = C.IORING_SETUP_SQPOLL
	setupSubmitAll    = C.IORING_SETUP_SUBMIT_ALL
	setupClamp        = C.IORING_SETUP_CLAMP
	setupSingleIssuer = C.IORING_SETUP_SINGLE_ISSUER
	setupDeferTaskrun = C.IORING_SETUP_DEFER_TASKRUN
	featNoDrop        = C.IORING_FEAT_NODROP
)

// The Feature constants are written out so that builds without cgo have them;
// these fail to compile if one disagrees with the header (an array index
// of a nonzero constant is out of range).
var _ = [1]struct{}{}[FeatSingleMmap^C.IORING_FEAT_SINGLE_MMAP|
	FeatNoDrop^C.IORING_FEAT_NODROP|
	FeatSubmitStable^C.IORING_FEAT_SUBMIT_STABLE|
	FeatRWCurPos^C.IORING_FEAT_RW_CUR_POS|
	FeatCurPersonality^C.IORING_FEAT_CUR_PERSONALITY|
	FeatFastPoll^C.IORING_FEAT_FAST_POLL|
	FeatPoll32Bits^C.IORING_FEAT_POLL_32BITS|
	FeatSQPollNonFixed^C.IORING_FEAT_SQPOLL_NONFIXED|
	FeatExtArg^C.IORING_FEAT_EXT_ARG|
	FeatNativeWorkers^C.IORING_FEAT_NATIVE_WORKERS|
	FeatRsrcTags^C.IORING_FEAT_RSRC_TAGS|
	FeatCQESkip^C.IORING_FEAT_CQE_SKIP|
	FeatLinkedFile^C.IORING_FEAT_LINKED_FILE]

func newKernelRing(entries, cqEntries uint32, flags uint32, sqIdleMs uint32, sqCPU int, wqFd int) (*kernelRing, error) {
	u := (*C.uring_t)(C.calloc(1, C.sizeof_uring_t))
	if u == nil {
		return nil, syscall.ENOMEM
	}
	var feats C.uint
	ret := C.uring_init(u, C.uint(entries), C.uint(cqEntries), C.uint(flags), C.uint(sqIdleMs), C.int(sqCPU), C.int(wqFd), &feats)
	if ret < 0 {
		C.free(unsafe.Pointer(u))
		return nil, syscall.Errno(-ret)
	}
	return &kernelRing{u: u, features: uint32(feats),
		sqEntries: int(C.uring_sq_entries(u)), cqEntries: int(C.uring_cq_entries(u))}, nil
}

// newLocalKernelRing sets up a ring owned by the calling thread
// (uring_local_init) and returns the addresses local.go works with.
func newLocalKernelRing(entries, cqEntries uint32) (*kernelRing, localView, error) {
	u := (*C.uring_t)(C.calloc(1, C.sizeof_uring_t))
	v := (*C.uring_local_view_t)(C.calloc(1, C.sizeof_uring_local_view_t))
	if u == nil || v == nil {
		C.free(unsafe.Pointer(u))
		C.free(unsafe.Pointer(v))
		return nil, localView{}, syscall.ENOMEM
	}
	defer C.free(unsafe.Pointer(v))
	var feats C.uint
	if ret := C.uring_local_init(u, C.uint(entries), C.uint(cqEntries), v, &feats); ret < 0 {
		C.free(unsafe.Pointer(u))
		return nil, localView{}, syscall.Errno(-ret)
	}
	k := &kernelRing{u: u, features: uint32(feats), sqEntries: int(v.sq_entries), cqEntries: int(v.cq_entries)}
	return k, localView{
		sqes: v.sqes, sqHead: (*uint32)(unsafe.Pointer(v.sq_khead)),
		sqTail: (*uint32)(unsafe.Pointer(v.sq_ktail)), sqMask: uint32(v.sq_mask), sqEntries: uint32(v.sq_entries),
		cqes: v.cqes, cqHead: (*uint32)(unsafe.Pointer(v.cq_khead)),
		cqTail: (*uint32)(unsafe.Pointer(v.cq_ktail)), cqMask: uint32(v.cq_mask),
		enterFd: int(v.enter_fd), enterFlags: uint32(v.enter_flags),
	}, nil
}

// enterRing is io_uring_enter as a plain system call: the LocalRing's
// crossing, with no cgo call around it. An enter that may sleep (min > 0)
// tells the scheduler (entersyscall), so that the processor goes to other
// goroutines; one that cannot sleep does not, as a read that cannot wait
// for a device does not in fs.
func enterRing(fd int, submit, min, flags uint32) syscall.Errno {
	if min == 0 {
		_, _, e := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(submit), 0, uintptr(flags), 0, 0)
		return e
	}
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(submit), uintptr(min), uintptr(flags), 0, 0)
	return e
}

// submit copies n staged SQEs into the SQ and submits them. With out non-nil
// (the caller holds the CQ lock) it also reaps up to max ready completions.
// When the submission failed, withdrawn is how many of the batch's last SQEs
// were taken back out of the SQ: those never reach the kernel.
func (k *kernelRing) submit(staged unsafe.Pointer, n int, out unsafe.Pointer, max int) (reaped, withdrawn int, err error) {
	// The counts come back through C memory: a Go pointer argument would
	// make cgo move the variable to the heap on every call.
	ret := C.uring_submit(C.uintptr_t(uintptr(unsafe.Pointer(k.u))), C.uintptr_t(uintptr(staged)), C.uint(n), C.uintptr_t(uintptr(out)), C.uint(max))
	got := int(k.u.reaped)
	if ret < 0 {
		return got, int(k.u.withdrawn), syscall.Errno(-ret)
	}
	return got, 0, nil
}

// wait blocks until a completion is ready, without consuming it.
func (k *kernelRing) wait() error {
	if ret := C.uring_wait(k.u); ret < 0 {
		return syscall.Errno(-ret)
	}
	return nil
}

// reap copies up to max ready completions into out. The caller holds the CQ lock.
func (k *kernelRing) reap(out unsafe.Pointer, max int) int {
	return int(C.uring_reap_addr(C.uintptr_t(uintptr(unsafe.Pointer(k.u))), C.uintptr_t(uintptr(out)), C.uint(max)))
}

func (k *kernelRing) close() {
	C.io_uring_queue_exit(&k.u.ring)
	C.free(unsafe.Pointer(k.u))
	k.u = nil
}

func (k *kernelRing) fd() int { return int(C.uring_fd(k.u)) }

func (k *kernelRing) registerEventfd(fd int) error {
	return errno(C.uring_register_eventfd(k.u, C.int(fd)))
}

func (k *kernelRing) counters() kernelCounters {
	return kernelCounters{submits: uint64(k.u.submits), enters: uint64(k.u.enters), taskrun: uint64(k.u.taskrun),
		sqFull: uint64(k.u.sq_full_waits), cqOverflows: uint64(k.u.cq_overflows), drops: uint64(C.uring_koverflow(k.u))}
}

func (k *kernelRing) probe(supported []byte) int {
	return int(C.uring_probe(k.u, (*C.uchar)(unsafe.Pointer(&supported[0])), C.int(len(supported))))
}

func (k *kernelRing) registerFiles(fds []int32) error {
	return errno(C.uring_register_files(k.u, (*C.int)(unsafe.Pointer(&fds[0])), C.uint(len(fds))))
}

func (k *kernelRing) registerFilesSparse(n int) error {
	return errno(C.uring_register_files_sparse(k.u, C.uint(n)))
}

func (k *kernelRing) updateFiles(off int, fds []int32) (int, error) {
	ret := C.io_uring_register_files_update(&k.u.ring, C.uint(off), (*C.int)(unsafe.Pointer(&fds[0])), C.uint(len(fds)))
	if ret < 0 {
		return 0, syscall.Errno(-ret)
	}
	return int(ret), nil
}

func (k *kernelRing) unregisterFiles() error { return errno(C.uring_unregister_files(k.u)) }

// registerBuffers registers buffers given as (address, length) pairs. The
// caller keeps the buffers pinned until unregisterBuffers.
func (k *kernelRing) registerBuffers(pairs []uint64) error {
	return errno(C.uring_register_buffers(k.u, (*C.uint64_t)(unsafe.Pointer(&pairs[0])), C.uint(len(pairs)/2)))
}

func (k *kernelRing) unregisterBuffers() error {
	return errno(C.uring_unregister_buffers(k.u))
}

// cBufRing is a provided-buffer ring registered with one kernel ring.
type cBufRing struct{ b *C.uring_bufring_t }

func (k *kernelRing) newBufRing(entries, size int, group uint16, flags uint16) (*cBufRing, error) {
	b := (*C.uring_bufring_t)(C.calloc(1, C.sizeof_uring_bufring_t))
	if b == nil {
		return nil, syscall.ENOMEM
	}
	if err := errno(C.uring_bufring_setup(k.u, b, C.uint(entries), C.uint(size), C.int(group), C.uint(flags))); err != nil {
		C.free(unsafe.Pointer(b))
		return nil, err
	}
	return &cBufRing{b: b}, nil
}

// bytes returns buffer bid's first n bytes: a view of C memory.
func (b *cBufRing) bytes(bid uint16, n int) []byte { return b.bytesAt(bid, 0, n) }

// bytesAt returns n bytes of buffer bid from off: an incrementally
// consumed buffer's part.
func (b *cBufRing) bytesAt(bid uint16, off, n int) []byte {
	base := unsafe.Add(unsafe.Pointer(b.b.mem), uintptr(bid)*uintptr(b.b.size)+uintptr(off))
	return unsafe.Slice((*byte)(base), n)
}

// recycle hands buffer bid back to the kernel, as io_uring_buf_ring_add and
// io_uring_buf_ring_advance do, in Go: a receiving goroutine recycles each
// buffer it empties, and a cgo call would cost it more than the writes and
// grow an idle reader's stack past the smallest (issue 13). Callers
// serialise (BufferRing.mu).
func (b *cBufRing) recycle(bid uint16) {
	br := unsafe.Pointer(b.b.br)
	// The ring's tail is the high half of the word at offset 12; the low
	// half is bufs[0].bid (struct io_uring_buf_ring's union).
	word := (*uint32)(unsafe.Add(br, 12))
	tail := uint16(atomic.LoadUint32(word) >> 16)
	e := (*bufRingEntry)(unsafe.Add(br, uintptr(tail&uint16(b.b.mask))*bufRingEntrySize))
	e.addr = uint64(uintptr(unsafe.Pointer(b.b.mem)) + uintptr(bid)*uintptr(b.b.size))
	e.len = uint32(b.b.size)
	e.bid = bid
	// A release store publishes the entry (the low half reread: e may be bufs[0]).
	atomic.StoreUint32(word, atomic.LoadUint32(word)&0xffff|uint32(tail+1)<<16)
}

// bufRingEntry is struct io_uring_buf.
type bufRingEntry struct {
	addr uint64
	len  uint32
	bid  uint16
	_    uint16 // resv; in bufs[0], the ring's tail
}

// free releases the buffers; k is nil when the ring is already closed.
func (b *cBufRing) free(k *kernelRing) {
	var u *C.uring_t
	if k != nil {
		u = k.u
	}
	C.uring_bufring_free(u, b.b)
	C.free(unsafe.Pointer(b.b))
}

// The fault seam (uring_faults.h): these do something only in a build with
// the uring_faults tag, where tests and faults.go call them.

//lint:ignore U1000 used under the uring_faults build tag
func setKernelMask(major, minor int) { C.uring_set_kernel_mask(C.uint(major<<8 | minor)) }

//lint:ignore U1000 used under the uring_faults build tag
func setRegisterFault(err syscall.Errno, skip, times int) {
	C.uring_set_register_fault(C.int(err), C.uint(skip), C.uint(times))
}

//lint:ignore U1000 used under the uring_faults build tag
func setSetupFault(err syscall.Errno, times int) { C.uring_set_setup_fault(C.int(err), C.uint(times)) }

// setEnterFault makes the next times enters fail with err, and the next
// shortTimes enters consume shortBy fewer SQEs than are staged.
//
//lint:ignore U1000 used under the uring_faults build tag
func (k *kernelRing) setEnterFault(err syscall.Errno, times, shortBy, shortTimes int) {
	C.uring_set_enter_fault(k.u, C.int(err), C.uint(times), C.uint(shortBy), C.uint(shortTimes))
}

// setSilentFault makes the next times quiet enters leave the eventfd
// silenced.
//
//lint:ignore U1000 used under the uring_faults build tag
func (k *kernelRing) setSilentFault(times int) {
	C.uring_set_silent_fault(k.u, C.uint(times))
}

// memlockLimit returns RLIMIT_MEMLOCK's soft limit in bytes, and false when
// there is none (or it cannot be read).
func memlockLimit() (uint64, bool) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return 0, false
	}
	return lim.Cur, true
}

func cAlloc(n int) unsafe.Pointer { return C.calloc(1, C.size_t(n)) }
func cFree(p unsafe.Pointer)      { C.free(p) }

func errno(ret C.int) error {
	if ret < 0 {
		return syscall.Errno(-ret)
	}
	return nil
}
