//go:build unix

package loopback

import (
	"os"
	"os/signal"
	"syscall"
)

// onMemStatsSignal calls f on each SIGUSR1 (URING_LOOPBACK_MEMSTATS).
func onMemStatsSignal(f func()) { onSignal(syscall.SIGUSR1, f) }

// liveHeapSignal asks a server for its live heap (Child.LiveHeap).
var liveHeapSignal os.Signal = syscall.SIGUSR2

// onLiveHeapSignal calls f on each SIGUSR2.
func onLiveHeapSignal(f func()) { onSignal(syscall.SIGUSR2, f) }

func onSignal(sig os.Signal, f func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig)
	go func() {
		for range ch {
			f()
		}
	}()
}
