//go:build !cgo

package main

const probeCgo = false
