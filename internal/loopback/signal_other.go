//go:build !unix

package loopback

// onMemStatsSignal: no SIGUSR1 here; the figures are printed at the end only.
func onMemStatsSignal(func()) {}
