//go:build !race

package main

const cpRace = false
