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
//     wait for I/O, so it is made without entersyscall (RawSyscall6). After
//     a run of hits a window of reads is pread64, os's cheaper call (the warm
//     window, below). Where the file
//     system has no RWF_NOWAIT reads (EOPNOTSUPP: tmpfs, overlayfs, FUSE),
//     io_uring cannot issue a read without blocking either and hands each
//     to an io-wq thread, so every read there is a plain system call
//     (mount_linux.go);
//   - O_DIRECT reads and writes go to the ring on a file system with
//     RWF_NOWAIT reads and on overlayfs (mount.directOnRing), and so does
//     all I/O of a block device;
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
	viaRawRead             // pread64 without entersyscall: a read that cannot wait for a device
)

// dispatch is a File's dispatch state.
type dispatch struct {
	read, write, sync path
	mount             *mount       // the File's file system (nil: a block device, or not known)
	noWait            atomic.Bool  // the kernel said RWF_NOWAIT is not supported here
	hits, warmLeft    atomic.Int32 // the warm window (below)
}

// A buffered read that RWF_NOWAIT could serve costs about 150 ns more in
// the kernel than os's pread64 (the vectored path), 0.88-0.94x os from one
// goroutine. So once warmAfter reads in a row were served, a File makes its
// next warmWindow reads as pread64 with entersyscall, as os does: a miss
// among them blocks a thread, not a processor, as os's would. Then it asks
// with RWF_NOWAIT again, so a file gone cold reaches the ring within a
// window (docs/design.md, "The warm window").
const (
	warmAfter  = 16  // RWF_NOWAIT hits in a row that open a warm window
	warmWindow = 256 // reads in a window
)

// inWarmWindow takes one read of the window, if one is open. Loads and
// stores, not read-modify-writes: readers on other cores do not contend for
// the line, and a lost update only moves the window's end by a read.
func (d *dispatch) inWarmWindow() bool {
	n := d.warmLeft.Load()
	if n <= 0 {
		return false
	}
	d.warmLeft.Store(n - 1)
	return true
}

// count records a RWF_NOWAIT read's answer: hits in a row open a window.
func (d *dispatch) count(hit bool) {
	if !hit {
		d.hits.Store(0)
		return
	}
	if h := d.hits.Load() + 1; h < warmAfter {
		d.hits.Store(h)
		return
	}
	d.hits.Store(0)
	d.warmLeft.Store(warmWindow)
}

// choose sets how a File's reads, writes and syncs run: fd is its
// descriptor, regular false for a block device, m its file system, flag its open flags
// (or flagsUnknown: then F_GETFL tells, one system call more).
//
// Where the file system has no RWF_NOWAIT reads, io_uring would hand every
// read to an io-wq worker thread, so reads are system calls there. O_DIRECT
// stays on the ring where that was measured to win (mount.directOnRing).
func (d *dispatch) choose(fd int, regular bool, m *mount, flag int) {
	d.mount = m
	if !regular {
		d.read, d.write, d.sync = viaRing, viaRing, viaRing // a block device: its page cache is the device's
		return
	}
	var err error
	if flag == flagsUnknown {
		flag, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	}
	direct := err != nil || flag&unix.O_DIRECT != 0
	switch {
	case direct && m.directOnRing():
		d.read, d.write, d.sync = viaRing, viaRing, viaSyscall
	case direct || m.noNowait():
		d.read, d.write, d.sync = viaSyscall, viaSyscall, viaSyscall
		if !direct && m.inMemory() && m.noSwap {
			d.read = viaRawRead
		}
	default:
		d.read, d.write, d.sync = viaNowait, viaSyscall, viaSyscall
	}
}

// inline moves b at off (-1: the file offset) with one system call when the
// rule says so. ok is false when the ring must do it: the path is viaRing,
// or the kernel would have blocked (EAGAIN). Any other error is returned as
// the ring would return it.
func (d *dispatch) inline(fd int, write bool, b []byte, off int64) (n int, err error, ok bool) {
	p := d.read
	if write {
		p = d.write
	}
	switch p {
	case viaRing:
		return 0, nil, false
	case viaRawRead:
		if len(b) <= rawReadMax {
			for {
				n, err = rawRead(fd, b, off)
				if err != syscall.EINTR {
					return n, err, true
				}
			}
		}
	case viaNowait: // reads only (choose never gives it to writes)
		if d.inWarmWindow() {
			break // the system call os makes: a miss blocks this thread, as os's would
		}
		if !d.noWait.Load() {
			var iov [1]unix.Iovec
			if len(b) > 0 {
				iov[0].Base = &b[0]
			}
			iov[0].SetLen(len(b))
			n, err, ok = d.nowaitRead(fd, iov[:], len(b), off)
			d.count(ok && err == nil)
			return n, err, ok
		}
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
// have blocked (EAGAIN). Where the file system cannot say (EOPNOTSUPP:
// noWait and the mount remember), the read is a plain system call, as the
// ring would only hand it to a worker thread. Any other error is returned.
func (d *dispatch) nowaitRead(fd int, iov []unix.Iovec, n int, off int64) (int, error, bool) {
	if d.noWait.Load() {
		got, err := preadBlocking(fd, iov, off)
		return got, err, true
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
			if d.mount != nil {
				d.mount.nowait.Store(nowaitNo)
			}
			got, err = preadBlocking(fd, iov, off)
			return got, err, true
		}
		return 0, err, true
	}
}

// preadBlocking is preadv2 without flags, EINTR retried: a read that may
// wait for the device, so the scheduler may hand the processor on.
func preadBlocking(fd int, iov []unix.Iovec, off int64) (int, error) {
	lo, hi := uintptr(off), uintptr(uint64(off)>>(bits.UintSize-1)>>1)
	for {
		r, _, e := syscall.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(iov))),
			uintptr(len(iov)), lo, hi, 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
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

// learnedNoNowait reports that a read was refused RWF_NOWAIT.
func (d *dispatch) learnedNoNowait() bool { return d.noWait.Load() }

// fileSystem names the File's file system.
func (d *dispatch) fileSystem() string {
	if d.mount == nil {
		return "block device"
	}
	return d.mount.name()
}

// rawRead is pread64 (read at the file offset for off < 0) without
// entersyscall, for tmpfs and ramfs on a machine without swap: such a read
// copies from memory and cannot wait for a device, so it may skip the
// scheduler's system-call state as preadNowait does (1.11x os.File at 64
// goroutines and 1.04x at one, against 1.03x and 0.98x for pread64 with
// it; Pebble 1.06x against 0.97x: docs/design.md). With swap a page may be
// on disk, and the processor would wait with it.
func rawRead(fd int, b []byte, off int64) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	var r uintptr
	var e syscall.Errno
	if off < 0 {
		r, _, e = syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(p), uintptr(len(b)))
	} else {
		r, _, e = syscall.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(p), uintptr(len(b)), uintptr(off), 0, 0)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// openFlags is F_GETFL of f's descriptor, flagsUnknown when it fails.
func openFlags(f *os.File) int {
	fd, ok := ringFd(f)
	if !ok {
		return flagsUnknown
	}
	flag, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return flagsUnknown
	}
	return flag
}
