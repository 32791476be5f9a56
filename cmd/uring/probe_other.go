//go:build !linux

package main

import (
	"errors"
	"runtime"

	"github.com/goaio/uring"
)

// There is no io_uring off Linux: the report gives the OS as the kernel and
// says so; capabilities are never tried.

func probeKernelRelease() string { return runtime.GOOS }

func diagnose(err error) (reason, fix string) {
	return err.Error(), "run on Linux " + uring.FloorVersion + " or later; uring's fs and net packages fall back to os and net here"
}

func memlockReport() probeMemlock { return probeMemlock{LimitKiB: -1} }

func checkCapabilities(*uring.Ring) map[string]error {
	errs := map[string]error{}
	for _, name := range probeCapabilities {
		errs[name] = errors.New("io_uring is Linux only")
	}
	return errs
}
