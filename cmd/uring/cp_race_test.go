//go:build race

package main

// cpRace skips the 1 GiB copy: under the race detector it takes minutes.
const cpRace = true
