package fs

import "golang.org/x/sys/unix"

// The system calls behind SyncData, SyncRange, Allocate and Advise, for
// files the ring does not serve. Each retries on EINTR, as os does for
// fsync: Go's own signals (preemption) must not surface as errors.

func sysFsync(fd int) error {
	for {
		if err := unix.Fsync(fd); err != unix.EINTR {
			return err
		}
	}
}

func sysFdatasync(fd int) error {
	for {
		if err := unix.Fdatasync(fd); err != unix.EINTR {
			return err
		}
	}
}

func sysSyncFileRange(fd int, off, n int64, flags int) error {
	for {
		if err := unix.SyncFileRange(fd, off, n, flags); err != unix.EINTR {
			return err
		}
	}
}

func sysFallocate(fd int, mode uint32, off, n int64) error {
	for {
		if err := unix.Fallocate(fd, mode, off, n); err != unix.EINTR {
			return err
		}
	}
}

func sysFadvise(fd int, off, n int64, advice int) error { return unix.Fadvise(fd, off, n, advice) }
