//go:build !cgo

package uring_test

import (
	"errors"
	"testing"

	"github.com/goaio/uring"
)

// TestWithoutCgo is invariant 6 for a CGO_ENABLED=0 build: the module
// builds, and New and Available say why there is no io_uring.
func TestWithoutCgo(t *testing.T) {
	_, err := uring.New()
	if !errors.Is(err, uring.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("New without cgo: got %v, want an error matching ErrUnsupported", err)
	}
	if err := uring.Available(); !errors.Is(err, uring.ErrUnsupported) {
		t.Fatalf("Available without cgo: got %v", err)
	}
	t.Log(err)
}
