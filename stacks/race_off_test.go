//go:build !race

package stacks

const raceEnabled = false
