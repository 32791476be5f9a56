//go:build race

package stacks

// raceEnabled shrinks the volumes: the stacks run several times slower
// under the race detector, and the point there is the interleavings.
const raceEnabled = true
