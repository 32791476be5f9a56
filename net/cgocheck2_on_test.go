//go:build goexperiment.cgocheck2

package net

// cgocheck2 is set in a GOEXPERIMENT=cgocheck2 build, which checks every
// pointer write on the writing goroutine's stack.
const cgocheck2 = true
