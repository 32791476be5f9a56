//go:build linux

package uring_test

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// sinkLog is a Sink that records what it is pushed.
type sinkLog struct {
	mu    sync.Mutex
	got   []uring.Result
	final chan struct{}
}

func (s *sinkLog) Push(res uring.Result, final bool) {
	s.mu.Lock()
	s.got = append(s.got, res)
	s.mu.Unlock()
	if final {
		close(s.final)
	}
}

func (s *sinkLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// A multishot receive delivers every message to its Sink, in order, from
// provided buffers; Cancel ends it with a final ECANCELED completion, and
// the request's slot is free by then.
func TestMultishotSink(t *testing.T) {
	r := newRing(t)
	if !r.Probe().Supports(ops.OpRecv) {
		t.Skip("no IORING_OP_RECV")
	}
	br, err := r.NewBufferRing(7, 8, 64)
	if err != nil {
		t.Skipf("provided buffer rings unavailable: %v", err)
	}
	defer br.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])

	sink := &sinkLog{final: make(chan struct{})}
	m, err := r.Multishot(ops.RecvMulti(fds[0], 7, 0), sink)
	require.NoError(t, err)
	msgs := []string{"one", "two", "three"}
	for i, msg := range msgs {
		_, err := unix.Write(fds[1], []byte(msg))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return sink.count() == i+1 }, 5*time.Second, time.Millisecond)
	}
	sink.mu.Lock()
	for i, res := range sink.got {
		require.True(t, res.More(), "message %d must not end the request", i)
		require.Equal(t, msgs[i], string(br.Bytes(res)))
		br.Release(res)
	}
	sink.mu.Unlock()
	m.Cancel()
	select {
	case <-sink.final:
	case <-time.After(5 * time.Second):
		t.Fatal("no final completion after Cancel")
	}
	last := sink.got[len(sink.got)-1]
	require.Equal(t, -int32(syscall.ECANCELED), last.Res)
	require.Equal(t, 0, uring.SlotsInUse(r))
}

// Buffers handed back by Release are picked again, in a ring of 8 buffers
// that 300 messages go round many times, each message intact; Ring.Close
// closes a buffer ring still registered.
func TestBufferRingRecycleWraps(t *testing.T) {
	r := newRing(t, uring.WithShards(1))
	br, err := r.NewBufferRing(9, 8, 64)
	if err != nil {
		t.Skipf("provided buffer rings unavailable: %v", err)
	}
	require.Equal(t, 1, uring.BufferRingsRegistered(r))
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	sink := &sinkLog{final: make(chan struct{})}
	m, err := r.Multishot(ops.RecvMulti(fds[0], 9, 0), sink)
	require.NoError(t, err)
	for i := range 300 {
		msg := fmt.Sprintf("message %d", i)
		_, err := unix.Write(fds[1], []byte(msg))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return sink.count() == i+1 }, 5*time.Second, time.Millisecond)
		sink.mu.Lock()
		res := sink.got[i]
		sink.mu.Unlock()
		require.True(t, res.More(), "message %d ended the receive: %v", i, res.Err())
		require.Equal(t, msg, string(br.Bytes(res)))
		br.Release(res)
	}
	m.Cancel()
	<-sink.final
	require.NoError(t, r.Close())
	require.Zero(t, uring.BufferRingsRegistered(r), "Ring.Close closes the buffer rings still registered")
}

// countSink counts the final completions it is pushed.
type countSink struct{ finals chan struct{} }

func (s *countSink) Push(_ uring.Result, final bool) {
	if final {
		s.finals <- struct{}{}
	}
}

// Arming a multishot request allocates nothing: a connection's readiness
// poll stays armed for the connection's life, so whatever arming allocates
// is memory every idle connection holds (issue 13, idle RSS). A slot that
// has only held multishot requests has no wait channel.
func TestMultishotArmAllocatesNothing(t *testing.T) {
	if raceEnabled() {
		t.Skip("-race: allocation counts are meaningless")
	}
	r := newRing(t, uring.WithShards(1))
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	const runs = 100
	sink := &countSink{finals: make(chan struct{}, runs+1)}
	armed := make([]uring.Multi, 0, runs+1)
	allocs := testing.AllocsPerRun(runs, func() {
		m, err := r.Multishot(ops.PollMultishot(p[0], unix.POLLIN), sink) // never readable
		if err != nil {
			panic(err)
		}
		armed = append(armed, m)
	})
	for _, m := range armed {
		m.Cancel()
	}
	for range armed {
		select {
		case <-sink.finals:
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled poll gave no final completion")
		}
	}
	require.Zero(t, allocs, "allocations per armed multishot request")
}
