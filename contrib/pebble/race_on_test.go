//go:build race

package uringpebble

// raceEnabled shrinks TestWorkload: Pebble runs about ten times slower
// under the race detector.
const raceEnabled = true
