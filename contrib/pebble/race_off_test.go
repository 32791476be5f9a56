//go:build !race

package uringpebble

const raceEnabled = false
