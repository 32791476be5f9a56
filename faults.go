//go:build uring_faults && linux && cgo

package uring

// The Go side of the fault seam (uring_faults.h), built only with the
// uring_faults tag. URING_FAULT_KERNEL=5.15 (say) makes the whole process
// see the kernel boundary of that release: every setup flag, opcode and
// request flag newer than it is answered with EINVAL, so New refuses and fs
// and net run on their fallbacks, as on that kernel. Tests inject single
// faults through export_faults_test.go.

import (
	"fmt"
	"os"
)

func init() {
	if v := os.Getenv("URING_FAULT_KERNEL"); v != "" {
		var major, minor int
		if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
			panic("URING_FAULT_KERNEL=" + v + ": want a release such as 5.15")
		}
		maskKernel(major, minor)
	}
}

// maskKernel makes the kernel boundary answer as release major.minor would
// (0, 0: no mask) and forgets what checkKernel found.
func maskKernel(major, minor int) {
	setKernelMask(major, minor)
	forgetKernelCheck()
}
