//go:build !unix

package loopback

import "os"

// onMemStatsSignal: no SIGUSR1 here; the figures are printed at the end only.
func onMemStatsSignal(func()) {}

// liveHeapSignal: no SIGUSR2 here; LiveHeap fails.
var liveHeapSignal os.Signal = os.Interrupt

func onLiveHeapSignal(func()) {}
