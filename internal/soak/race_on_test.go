//go:build linux && race

package soak

// raceEnabled: ThreadSanitizer's shadow memory and goroutine histories are in
// RSS, and grow with every goroutine the run creates.
const raceEnabled = true
