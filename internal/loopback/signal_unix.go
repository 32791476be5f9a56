//go:build unix

package loopback

import (
	"os"
	"os/signal"
	"syscall"
)

// onMemStatsSignal calls f on each SIGUSR1 (URING_LOOPBACK_MEMSTATS).
func onMemStatsSignal(f func()) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			f()
		}
	}()
}

// liveHeapSignal asks a server for its live heap (Child.LiveHeap).
var liveHeapSignal os.Signal = syscall.SIGUSR2

// onLiveHeapSignal calls f on each SIGUSR2.
func onLiveHeapSignal(f func()) {
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	go func() {
		for range usr2 {
			f()
		}
	}()
}
