//go:build linux

package net

import "os"

// Measurement switches (issue 13, item 3), deleted after.
var (
	sendOnRing = os.Getenv("URING_NET_SEND") != ""
	sendShared = os.Getenv("URING_NET_SEND") == "shared"
)
