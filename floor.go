package uring

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/goaio/uring/ops"
)

// The kernel floor is Linux 6.1 (Debian 12's kernel). Below it the Ring's
// design does not hold: Close's cancel-all needs IORING_ASYNC_CANCEL_ANY,
// a batch needs IORING_SETUP_SUBMIT_ALL so one bad SQE cannot strand the
// rest, buffer rings back multishot receives, and SINGLE_ISSUER and
// DEFER_TASKRUN are the dispatcher's next step. The floor is found by asking
// the kernel for each feature, never by reading uname: distribution kernels
// carry backports. Where it is missing, New and Available fail with an error
// matching ErrUnsupported that names the first missing feature, and fs and
// net fall back to os and net.

// FloorVersion is the oldest Linux release the Ring runs on.
const FloorVersion = "6.1"

// kernelFeature is one thing the floor needs and the release that brought it.
type kernelFeature struct {
	name  string
	since string
	has   func(k *kernelRing) (bool, error) // nil: a setup flag, tried by setupFlags
	flags uint32
}

// floorFeatures, oldest first: the first one missing is the one reported.
var floorFeatures = []kernelFeature{
	{name: "IORING_SETUP_SUBMIT_ALL", since: "5.18", flags: setupSubmitAll},
	{name: "IORING_OP_MSG_RING", since: "5.18", has: hasOpcode(ops.OpMsgRing)},
	{name: "IORING_ASYNC_CANCEL_ANY", since: "5.19", has: hasCancelAny},
	{name: "provided buffer rings (IORING_REGISTER_PBUF_RING)", since: "5.19", has: hasBufRing},
	{name: "IORING_SETUP_SINGLE_ISSUER", since: "6.0", flags: setupSingleIssuer},
	{name: "IORING_OP_SEND_ZC", since: "6.0", has: hasOpcode(ops.OpSendZC)},
	{name: "IORING_SETUP_DEFER_TASKRUN", since: "6.1", flags: setupSingleIssuer | setupDeferTaskrun},
}

var kernelCheck struct {
	mu   sync.Mutex
	done bool
	err  error
}

// checkKernel reports, once per process, whether io_uring is usable and has
// the floor's features: nil, or an UnsupportedError. A shortage that may
// pass (ENOMEM, EMFILE) is not kept: the next call asks again.
func checkKernel() error {
	kernelCheck.mu.Lock()
	defer kernelCheck.mu.Unlock()
	if !kernelCheck.done {
		kernelCheck.err = probeKernel()
		kernelCheck.done = !transient(kernelCheck.err)
	}
	return kernelCheck.err
}

// transient reports whether err is a shortage that may pass: locked memory
// another process of the user gives back, descriptors.
func transient(err error) bool {
	return errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// forgetKernelCheck makes the next checkKernel ask the kernel again (the
// fault seam's kernel masks change the answer).
//
//lint:ignore U1000 used under the uring_faults build tag
func forgetKernelCheck() {
	kernelCheck.mu.Lock()
	kernelCheck.done = false
	kernelCheck.mu.Unlock()
}

// probeKernel asks the whole floor of one ring of one entry (two pages) that
// has every setup flag of the floor set. A user without CAP_IPC_LOCK is
// charged for each ring against RLIMIT_MEMLOCK, and a closed ring stays
// charged until the kernel tears it down in the background: under a 64 KiB
// limit, a ring per question leaves no room for the rings New keeps. The
// flags include SINGLE_ISSUER, so the thread is locked while the ring lives.
// Where one flag is unknown, probeKernelByFeature names it.
func probeKernel() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var flags uint32
	for _, f := range floorFeatures {
		if f.has == nil {
			flags |= f.flags
		}
	}
	k, err := newKernelRing(1, 0, setupClamp|flags, 0, -1, -1)
	if errors.Is(err, syscall.EINVAL) {
		return probeKernelByFeature()
	}
	if err != nil {
		return setupError(err)
	}
	defer k.close()
	return checkFloor(k, true)
}

// probeKernelByFeature asks feature by feature, oldest first, on rings of
// their own: the first one missing is the one reported.
func probeKernelByFeature() error {
	k, err := newKernelRing(1, 0, setupClamp, 0, -1, -1)
	if err != nil {
		return setupError(err)
	}
	defer k.close()
	return checkFloor(k, false)
}

// checkFloor asks k for each feature of the floor; flagsKnown says k was set
// up with all the floor's flags.
func checkFloor(k *kernelRing, flagsKnown bool) error {
	if k.features&featNoDrop == 0 {
		return floorError("IORING_FEAT_NODROP", "5.5")
	}
	for _, f := range floorFeatures {
		var ok bool
		var err error
		switch {
		case f.has != nil:
			ok, err = f.has(k)
		case flagsKnown:
			ok = true
		default:
			ok, err = hasSetupFlags(setupClamp | f.flags)
		}
		if err != nil {
			return setupError(err)
		}
		if !ok {
			return floorError(f.name, f.since)
		}
	}
	return nil
}

func floorError(name, since string) error {
	return &UnsupportedError{What: "io_uring", Cause: fmt.Errorf(
		"needs Linux %s or newer: this kernel lacks %s (Linux %s); fs and net use os and net instead",
		FloorVersion, name, since)}
}

// hasSetupFlags sets up a small ring with flags: EINVAL means the kernel
// does not know one of them.
func hasSetupFlags(flags uint32) (bool, error) {
	k, err := newKernelRing(1, 0, flags, 0, -1, -1)
	if errors.Is(err, syscall.EINVAL) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	k.close()
	return true, nil
}

func hasOpcode(op ops.Opcode) func(*kernelRing) (bool, error) {
	return func(k *kernelRing) (bool, error) {
		var sup [256]byte
		k.probe(sup[:])
		return sup[op] != 0, nil
	}
}

// hasCancelAny cancels "any request" on the idle ring: ENOENT (nothing to
// cancel) where the flag is known, EINVAL where it is not.
func hasCancelAny(k *kernelRing) (bool, error) {
	staged, out := cAlloc(sqeSize), cAlloc(cqeSize)
	defer cFree(staged)
	defer cFree(out)
	*(*sqe)(staged) = sqe{opcode: uint8(ops.OpAsyncCancel), fd: -1, opFlags: ops.CancelAny, userData: 1}
	got, _, err := k.submit(staged, 1, out, 1)
	if err != nil {
		return false, err
	}
	if got == 0 {
		if err := k.wait(); err != nil {
			return false, err
		}
		k.reap(out, 1)
	}
	res := (*cqe)(unsafe.Pointer(out)).res
	return res != -int32(syscall.EINVAL), nil
}

func hasBufRing(k *kernelRing) (bool, error) {
	b, err := k.newBufRing(1, 64, 0, 0)
	if errors.Is(err, syscall.EINVAL) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b.free(k)
	return true, nil
}
