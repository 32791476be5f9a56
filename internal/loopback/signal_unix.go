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
