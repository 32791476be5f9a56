package fs

import (
	"math/bits"
	"math/rand/v2"
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
//     page cache holds and fails with EAGAIN instead of going to the device,
//     and the rest goes to the ring; while a file's reads keep hitting, only
//     one in sampleEvery asks and the rest are plain pread64s. Where the
//     file system has no RWF_NOWAIT reads (EOPNOTSUPP), every read goes to
//     the ring;
//   - O_DIRECT reads and writes, and block devices, always go to the ring;
//   - buffered writes are pwrite64, and fsync, fdatasync, sync_file_range,
//     fallocate and fadvise of regular files plain system calls: on ext4
//     io_uring hands each of them to an io-wq thread (a buffered write has no
//     RWF_NOWAIT there: EOPNOTSUPP), which cost 0.03x os at one goroutine.

// path is how one kind of call on a File runs.
type path uint8

const (
	viaRing    path = iota // always an io_uring op
	viaNowait              // preadv2 with RWF_NOWAIT, the ring on EAGAIN (one sampled call)
	viaSampled             // viaNowait on one call in sampleEvery while the page cache keeps up, else a plain pread
	viaSyscall             // a plain system call, as os.File makes
)

// sampleEvery: while reads find the page cache full, one in sampleEvery
// asks with RWF_NOWAIT (preadv2 costs about 80 ns more than pread64 in the
// kernel, 14% of a cached 4 KiB read); the rest are plain preads. Once one
// misses, every read asks, until warmAfter in a row found all their pages.
const (
	sampleEvery = 16
	warmAfter   = 16
)

// dispatch is a File's dispatch state.
type dispatch struct {
	read, write, sync path
	noWait            atomic.Bool  // the kernel said RWF_NOWAIT is not supported here
	cold              atomic.Bool  // every read asks first: one missed, and warmAfter have not hit since
	hits              atomic.Int32 // full hits in a row while cold
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
	d.cold.Store(true) // a new file earns plain preads
	d.read, d.write, d.sync = viaSampled, viaSyscall, viaSyscall
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
	case viaSampled:
		p = viaNowait
		if !d.cold.Load() && rand.Uint32()%sampleEvery != 0 {
			p = viaSyscall
		}
	}
	if p == viaNowait && d.noWait.Load() {
		return 0, nil, false
	}
	for {
		if p == viaNowait {
			n, err = rwv2(fd, write, b, off, unix.RWF_NOWAIT)
		} else {
			n, err = rw(fd, write, b, off)
		}
		switch err {
		case nil:
			if p == viaNowait && !write && d.cold.Load() {
				if n < len(b) {
					d.hits.Store(0) // part missing (or the end of the file)
				} else if d.hits.Add(1) >= warmAfter {
					d.cold.Store(false)
					d.hits.Store(0)
				}
			}
			return n, nil, true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if p == viaNowait {
				if !write {
					d.hits.Store(0)
					if !d.cold.Load() {
						d.cold.Store(true)
					}
				}
				return 0, nil, false
			}
		case syscall.EOPNOTSUPP:
			if p == viaNowait {
				d.noWait.Store(true)
				return 0, nil, false
			}
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

// rwv2 is preadv2 or pwritev2 of the one buffer b: x/sys's versions take a
// [][]byte and build an iovec array per call.
func rwv2(fd int, write bool, b []byte, off int64, flags int) (int, error) {
	var iov [1]unix.Iovec
	if len(b) > 0 {
		iov[0].Base = &b[0]
	}
	iov[0].SetLen(len(b))
	if write {
		return rwvec(unix.SYS_PWRITEV2, fd, iov[:], off, flags)
	}
	return rwvec(unix.SYS_PREADV2, fd, iov[:], off, flags)
}

// preadv2 reads into the buffers of iov at off (-1: the file offset).
func preadv2(fd int, iov []unix.Iovec, off int64, flags int) (int, error) {
	return rwvec(unix.SYS_PREADV2, fd, iov, off, flags)
}

func rwvec(trap uintptr, fd int, iov []unix.Iovec, off int64, flags int) (int, error) {
	// The offset goes in two longs (low, high), as on 32-bit systems.
	lo, hi := uintptr(off), uintptr(uint64(off)>>(bits.UintSize-1)>>1)
	n, _, e := syscall.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(iov))), uintptr(len(iov)), lo, hi, uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
