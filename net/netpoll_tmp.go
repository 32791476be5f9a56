//go:build linux

package net

import "os"

// netpollReady: measurement switch (issue 13, a fourth receive design), deleted after.
var netpollReady = os.Getenv("URING_NET_READY") == "netpoll"
