package uring

import _ "unsafe" // go:linkname

// procPin and procUnpin are the runtime's: they pin the goroutine to its P
// and return the P's index. The runtime keeps them linkable (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// currentP returns the index of the processor running the caller.
func currentP() int {
	p := procPin()
	procUnpin()
	return p
}
