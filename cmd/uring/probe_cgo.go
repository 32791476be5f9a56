//go:build cgo

package main

// probeCgo says whether this binary was built with cgo: without it the
// library has no liburing and uring probe says to rebuild.
const probeCgo = true
