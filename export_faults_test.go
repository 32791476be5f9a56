//go:build uring_faults && linux && cgo

package uring

import "syscall"

// Test hooks into the fault seam (uring_faults.h). Set faults while r is
// idle: the C side reads them without a lock.

// InjectEnterFault makes the next times io_uring_enter calls of each of r's
// shards fail with err before the kernel reads the SQ. Each shard counts its
// own: a test about one kernel ring asks for WithShards(1).
func InjectEnterFault(r *Ring, err syscall.Errno, times int) {
	for _, s := range r.shards {
		s.k.setEnterFault(err, times, 0, 0)
	}
}

// InjectShortSubmit makes the next times enters of each shard consume by
// fewer SQEs than are waiting (at least one).
func InjectShortSubmit(r *Ring, by, times int) {
	for _, s := range r.shards {
		s.k.setEnterFault(0, 0, by, times)
	}
}

// InjectLostSignal makes the next times enters of each shard that reap
// inline leave the ring's eventfd silenced, so completions posted after them
// signal nothing (the kernel's view in the instant before a submitter turns
// the eventfd back on).
func InjectLostSignal(r *Ring, times int) {
	for _, s := range r.shards {
		s.k.setSilentFault(times)
	}
}

// InjectSetupFault makes the next times io_uring_setup calls fail with err.
func InjectSetupFault(err syscall.Errno, times int) { setSetupFault(err, times) }

// InjectRegisterFault makes io_uring_register calls that register files or
// buffers fail with err times times, after the next skip went through.
func InjectRegisterFault(err syscall.Errno, skip, times int) { setRegisterFault(err, skip, times) }

// MaskKernel makes the kernel boundary answer as Linux major.minor would;
// MaskKernel(0, 0) lifts the mask.
func MaskKernel(major, minor int) { maskKernel(major, minor) }
