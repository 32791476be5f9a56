//go:build linux

package uring_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// TestMain leaves out the examples that cannot run here, saying why: all of
// them without io_uring (they cannot skip, and their output is the ring's),
// and those whose kernel feature is missing. Under URING_REQUIRE=1 (CI) a
// missing io_uring is not skipped: the examples run and fail. The child that
// TestRegisterMemlockPerShard starts as another user skips this: it runs one
// test, and a ring made here would still be charged to its locked-memory
// limit while the kernel frees it.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(memlockChildEnv) == "" {
		skipExamples()
	}
	code := m.Run()
	removeBenchFiles()
	os.Exit(code)
}

// exampleNeeds maps an example to a check of the kernel feature it uses.
var exampleNeeds = map[string]func(*uring.Ring) error{
	"ExampleRing_Stream": func(r *uring.Ring) error {
		for _, err := range r.Stream(context.Background(), ops.TimeoutMulti(time.Microsecond, 1)) {
			if !errors.Is(err, syscall.ETIME) { // each tick is an expiry
				return fmt.Errorf("multishot timeout (Linux 6.4): %w", err)
			}
		}
		return nil
	},
	"ExampleBufferRing": func(r *uring.Ring) error {
		if !r.Probe().Supports(ops.OpRecv) {
			return fmt.Errorf("no IORING_OP_RECV (Linux 5.6)")
		}
		br, err := r.NewBufferRing(1, 1, 1)
		if err != nil {
			return fmt.Errorf("provided buffer ring (Linux 5.19): %w", err)
		}
		return br.Close()
	},
}

func skipExamples() {
	var skip []string
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			fmt.Printf("uring: io_uring required (URING_REQUIRE=1) but unavailable: %v\n", err)
			return
		}
		fmt.Printf("uring: examples skipped: %v\n", err)
		skip = append(skip, "^Example")
	} else if r, err := uring.New(); err == nil {
		for name, check := range exampleNeeds {
			if err := check(r); err != nil {
				fmt.Printf("uring: %s skipped: %v\n", name, err)
				skip = append(skip, "^"+name+"$")
			}
		}
		r.Close()
	}
	if len(skip) == 0 {
		return
	}
	if old := flag.Lookup("test.skip").Value.String(); old != "" {
		skip = append(skip, old)
	}
	flag.Set("test.skip", strings.Join(skip, "|"))
}
