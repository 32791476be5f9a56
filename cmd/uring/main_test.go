package main

import (
	"os"
	"testing"

	"github.com/goaio/uring/internal/loopback"
)

// TestMain lets this test binary, re-executed, be the servers of the bench
// cases echo and http, as main lets the uring binary be.
func TestMain(m *testing.M) {
	loopback.ServeIfChild()
	os.Exit(m.Run())
}
