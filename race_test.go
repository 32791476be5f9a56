//go:build race && linux

package uring_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

const raceChildEnv = "URING_TEST_RACE_CHILD"

// TestRaceSeesKernelWrites: with -race, a goroutine reading a buffer while
// the kernel fills it is reported. The racy program runs in a child so the
// report does not fail this test binary.
func TestRaceSeesKernelWrites(t *testing.T) {
	if os.Getenv(raceChildEnv) == "1" {
		racyRead(t)
		return
	}
	requireRing(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaceSeesKernelWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), raceChildEnv+"=1")
	out, _ := cmd.CombinedOutput()
	require.True(t, strings.Contains(string(out), "WARNING: DATA RACE"), "no race reported:\n%s", out)
}

// raceSink keeps the racy load from being optimised away.
var raceSink byte

func racyRead(t *testing.T) {
	r := newRing(t)
	rd, wr := pipe(t)
	buf := make([]byte, 8)
	done := make(chan struct{})
	go func() {
		_, _ = r.Do(context.Background(), ops.Read(rd, buf, -1))
		close(done)
	}()
	// The read parks its caller, so the poller reaps it after the write
	// below: unix.Write's race annotation (a release on x/sys's ioSync) must
	// not reach the reaper and order the kernel's write after this load.
	for r.Stats().Parks == 0 {
		time.Sleep(time.Millisecond)
	}
	raceSink = buf[0] // races with the kernel's write reported at completion
	unix.Write(wr, []byte("x"))
	<-done
}
