package fs

import (
	"math/bits"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The dispatch rule (docs/design.md, "Files: the dispatch rule"): the ring
// wins where the kernel would block a thread, and loses where it would not,
// since a plain system call here costs about a microsecond and a ring round
// trip more. So, per call:
//   - a buffered read asks with preadv2(RWF_NOWAIT), which copies what the
//     page cache holds and fails with EAGAIN instead of going to the device
//     or waiting for a page lock, and the rest goes to the ring. It cannot
//     wait for I/O, so it is made without entersyscall (RawSyscall6), which
//     pays for preadv2's extra kernel work over pread64. Where the file
//     system has no RWF_NOWAIT reads (EOPNOTSUPP), every read goes to the
//     ring;
//   - O_DIRECT reads and writes, and block devices, always go to the ring;
//   - buffered writes are pwrite64, and fsync, fdatasync, sync_file_range,
//     fallocate and fadvise of regular files plain system calls: on ext4
//     io_uring hands each of them to an io-wq thread (a buffered write has no
//     RWF_NOWAIT there: EOPNOTSUPP), which cost 0.03x os at one goroutine.

// path is how one kind of call on a File runs.
type path uint8

const (
	viaRing    path = iota // always an io_uring op
	viaNowait              // preadv2 with RWF_NOWAIT, the ring on EAGAIN
	viaSyscall             // a plain system call, as os.File makes
)

// dispatch is a File's dispatch state.
type dispatch struct {
	read, write, sync path
	noWait            atomic.Bool // the kernel said RWF_NOWAIT is not supported here
}

// choose sets how a File's reads, writes and syncs run: st is the File's
// Stat at open, fd its descriptor, flag its open flags (or flagsUnknown:
// then F_GETFL tells, one system call more).
func (d *dispatch) choose(fd int, st os.FileInfo, flag int) {
	if !st.Mode().IsRegular() {
		d.read, d.write, d.sync = viaRing, viaRing, viaRing // a block device: its page cache is the device's
		return
	}
	var err error
	if flag == flagsUnknown {
		flag, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	}
	if err != nil || flag&unix.O_DIRECT != 0 {
		d.read, d.write, d.sync = viaRing, viaRing, viaSyscall
		return
	}
	d.read, d.write, d.sync = viaNowait, viaSyscall, viaSyscall
}

// inline moves b at off (-1: the file offset) with one system call when the
// rule says so. ok is false when the ring must do it: the path is viaRing,
// or the kernel would have blocked (EAGAIN) or cannot say (EOPNOTSUPP:
// noWait remembers, and later calls skip the attempt). Any other error is
// returned as the ring would return it.
func (d *dispatch) inline(fd int, write bool, b []byte, off int64) (n int, err error, ok bool) {
	p := d.read
	if write {
		p = d.write
	}
	switch p {
	case viaRing:
		return 0, nil, false
	case viaNowait: // reads only (choose never gives it to writes)
		var iov [1]unix.Iovec
		if len(b) > 0 {
			iov[0].Base = &b[0]
		}
		iov[0].SetLen(len(b))
		return d.nowaitRead(fd, iov[:], len(b), off)
	}
	for {
		n, err = rw(fd, write, b, off)
		if err != syscall.EINTR {
			return n, err, true
		}
	}
}

// nowaitRead is preadNowait of iov (n bytes) at off with the rule's
// answer: ok is false when the ring must read, because the kernel would
// have blocked (EAGAIN) or cannot say (EOPNOTSUPP: noWait remembers, and
// later calls skip the attempt). Any other error is returned.
func (d *dispatch) nowaitRead(fd int, iov []unix.Iovec, n int, off int64) (int, error, bool) {
	if d.noWait.Load() {
		return 0, nil, false
	}
	for {
		got, err := preadNowait(fd, iov, n, off)
		switch err {
		case nil:
			return got, nil, true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil, false
		case syscall.EOPNOTSUPP:
			d.noWait.Store(true)
			return 0, nil, false
		}
		return 0, err, true
	}
}

// rw is pread64/pwrite64, or read/write at the file offset (off < 0).
func rw(fd int, write bool, b []byte, off int64) (int, error) {
	switch {
	case write && off < 0:
		return syscall.Write(fd, b)
	case write:
		return syscall.Pwrite(fd, b, off)
	case off < 0:
		return syscall.Read(fd, b)
	}
	return syscall.Pread(fd, b, off)
}

// preadNowait is preadv2(RWF_NOWAIT) into the buffers of iov at off (-1:
// the file offset; x/sys's Preadv2 builds an iovec array per call), n bytes
// in all. It never waits for I/O, so up to rawReadMax bytes it is made
// without entering the scheduler's system-call state, as a call that cannot
// block may be: that saves about what preadv2's extra kernel work over
// pread64 costs. A larger copy could hold the processor for long enough
// that the scheduler should be free to hand it on.
func preadNowait(fd int, iov []unix.Iovec, n int, off int64) (int, error) {
	// The offset goes in two longs (low, high), as on 32-bit systems.
	lo, hi := uintptr(off), uintptr(uint64(off)>>(bits.UintSize-1)>>1)
	var r uintptr
	var e syscall.Errno
	// The pointer conversions stay in the calls: only there do they keep
	// the iovecs alive and in place.
	if n <= rawReadMax {
		r, _, e = syscall.RawSyscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(iov))),
			uintptr(len(iov)), lo, hi, unix.RWF_NOWAIT)
	} else {
		r, _, e = syscall.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(iov))),
			uintptr(len(iov)), lo, hi, unix.RWF_NOWAIT)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawReadMax: a cached copy of 64 KiB takes a few microseconds, as long as
// a stretch of Go code between preemption points may.
const rawReadMax = 64 << 10
