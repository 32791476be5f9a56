//go:build !linux

package fs

import "errors"

// fdatasync(2), sync_file_range(2), fallocate(2) and posix_fadvise(2) are
// Linux calls; elsewhere SyncData, SyncRange, Allocate and Advise report
// errors.ErrUnsupported.

func sysFsync(int) error { return errors.ErrUnsupported }

func sysFdatasync(int) error { return errors.ErrUnsupported }

func sysSyncFileRange(int, int64, int64, int) error { return errors.ErrUnsupported }

func sysFallocate(int, uint32, int64, int64) error { return errors.ErrUnsupported }

func sysFadvise(int, int64, int64, int) error { return errors.ErrUnsupported }
