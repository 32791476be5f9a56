//go:build !race

package uring

import "unsafe"

const raceEnabled = false

func raceKernelAccess(p unsafe.Pointer, n int, write bool) {}
