//go:build uring_faults && linux && cgo

package uring_test

// Tests of the fault seam (go test -tags uring_faults): io_uring_enter and
// io_uring_setup failing on purpose, an enter that consumes fewer SQEs than
// asked, and kernels older than the floor. Each checks that no completion is
// lost or delivered twice, that no buffer is written after its call
// returned (canaries), that every waiter wakes, and that the ring is usable
// afterwards or fails every later call with a clear error.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

const faultBlock = 4096

// faultFile is a file of numbered 4 KiB blocks; block i is all byte(i+1).
func faultFile(t *testing.T, blocks int) int {
	t.Helper()
	data := make([]byte, blocks*faultBlock)
	for i := range data {
		data[i] = byte(i/faultBlock + 1)
	}
	path := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// canaryBuf is a read buffer the kernel must not touch once its call failed.
func canaryBuf() []byte { return bytes.Repeat([]byte{0xcc}, faultBlock) }

func isCanary(b []byte) bool { return bytes.Count(b, []byte{0xcc}) == len(b) }

// readAll runs n reads of blocks 0..n-1 concurrently and returns each one's
// error and buffer.
func readAll(r *uring.Ring, fd, n int) ([]error, [][]byte) {
	errs, bufs := make([]error, n), make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		bufs[i] = canaryBuf()
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Do(context.Background(), ops.Read(fd, bufs[i], int64(i*faultBlock)))
			if err == nil && res.N() != faultBlock {
				err = errors.New("short read")
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errs, bufs
}

func checkBlock(t *testing.T, i int, b []byte) {
	t.Helper()
	require.Equal(t, bytes.Repeat([]byte{byte(i + 1)}, faultBlock), b, "block %d", i)
}

// settle lets stray kernel work show: a withdrawn SQE run by a later enter
// completes inline for a regular file, so one more round trip and a pause
// are enough for it to have written a buffer.
func settle(t *testing.T, r *uring.Ring) {
	t.Helper()
	_, err := r.Do(context.Background(), ops.Nop())
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
}

func TestFaultEnterTransient(t *testing.T) {
	for _, en := range []syscall.Errno{syscall.EINTR, syscall.EAGAIN, syscall.EBUSY} {
		t.Run(en.Error(), func(t *testing.T) {
			r := newRing(t, uring.WithShards(1))
			fd := faultFile(t, 64)
			uring.InjectEnterFault(r, en, 3)
			errs, bufs := readAll(r, fd, 64)
			for i := range errs {
				require.NoError(t, errs[i], "read %d: a transient enter error is retried", i)
				checkBlock(t, i, bufs[i])
			}
			st := r.Stats()
			require.Equal(t, st.Submitted, st.Completed, "every submission completed once")
			require.Zero(t, st.Foreign, "no completion without its request")
		})
	}
}

// TestDefect7FailedEnterWithdrawsSQEs: a hard io_uring_enter error fails the
// batch's callers, and the SQEs liburing had placed in the SQ must go with
// them: a later enter would run them against buffers their callers got back.
func TestDefect7FailedEnterWithdrawsSQEs(t *testing.T) {
	for _, en := range []syscall.Errno{syscall.ENOMEM, syscall.EEXIST} {
		t.Run(en.Error(), func(t *testing.T) {
			r := newRing(t, uring.WithShards(1))
			fd := faultFile(t, 32)
			batch := make([]ops.Op, 32)
			bufs := make([][]byte, len(batch))
			for i := range batch {
				bufs[i] = canaryBuf()
				batch[i] = ops.Read(fd, bufs[i], int64(i*faultBlock))
			}
			res := make([]uring.Result, len(batch))
			uring.InjectEnterFault(r, en, 1)
			require.NoError(t, r.DoBatch(context.Background(), batch, res))
			for i := range res {
				require.ErrorIs(t, res[i].Err(), en, "op %d of the failed batch", i)
			}
			settle(t, r)
			for i, b := range bufs {
				require.True(t, isCanary(b), "buffer %d written after its call failed", i)
			}
			// The ring goes on.
			errs, got := readAll(r, fd, 32)
			for i := range errs {
				require.NoError(t, errs[i])
				checkBlock(t, i, got[i])
			}
			require.Zero(t, r.Stats().Foreign)
		})
	}
}

func TestFaultEnterHardConcurrent(t *testing.T) {
	r := newRing(t, uring.WithShards(1))
	fd := faultFile(t, 128)
	uring.InjectEnterFault(r, syscall.ENOMEM, 2)
	errs, bufs := readAll(r, fd, 128)
	failed := 0
	for i := range errs {
		if errs[i] != nil {
			require.ErrorIs(t, errs[i], syscall.ENOMEM, "read %d", i)
			failed++
			continue
		}
		checkBlock(t, i, bufs[i])
	}
	require.Positive(t, failed, "the injected failure reached some callers")
	settle(t, r)
	for i := range errs {
		if errs[i] != nil {
			require.True(t, isCanary(bufs[i]), "buffer %d written after its call failed", i)
		}
	}
	st := r.Stats()
	require.Zero(t, st.Foreign)
	require.Zero(t, st.InFlight)
}

func TestFaultEnterFatal(t *testing.T) {
	for _, en := range []syscall.Errno{syscall.EBADF, syscall.EOWNERDEAD} {
		t.Run(en.Error(), func(t *testing.T) {
			requireRing(t)
			// One shard: the fault is injected into every shard's enter, and a
			// call that the scheduler puts on another shard meets that shard's
			// own first fault (the bare errno, not ErrBroken). CI met it once.
			r, err := uring.New(uring.WithShards(1))
			require.NoError(t, err)
			fd := faultFile(t, 1)
			buf := canaryBuf()
			uring.InjectEnterFault(r, en, 1)
			_, err = r.Do(context.Background(), ops.Read(fd, buf, 0))
			require.ErrorIs(t, err, en)
			for _, call := range []func() error{
				func() error { _, err := r.Do(context.Background(), ops.Nop()); return err },
				func() error { return r.DoBatch(context.Background(), []ops.Op{ops.Nop()}, make([]uring.Result, 1)) },
				func() error { return r.Async(context.Background(), ops.Nop(), func(uring.Result, error) {}) },
				func() error { _, err := r.Submit(context.Background(), ops.Nop()); return err },
			} {
				err := call()
				require.ErrorIs(t, err, uring.ErrBroken)
				require.ErrorIs(t, err, en)
			}
			time.Sleep(20 * time.Millisecond)
			require.True(t, isCanary(buf), "buffer written after its call failed")
			within(t, "Close of a broken ring", func() { require.NoError(t, r.Close()) })
		})
	}
}

func TestFaultShortSubmit(t *testing.T) {
	r := newRing(t, uring.WithShards(1))
	fd := faultFile(t, 64)
	uring.InjectShortSubmit(r, 3, 10)
	batch := make([]ops.Op, 16)
	bufs := make([][]byte, len(batch))
	for i := range batch {
		bufs[i] = canaryBuf()
		batch[i] = ops.Read(fd, bufs[i], int64(i*faultBlock))
	}
	res := make([]uring.Result, len(batch))
	require.NoError(t, r.DoBatch(context.Background(), batch, res))
	for i := range res {
		require.Equal(t, faultBlock, res[i].N(), "op %d", i)
		checkBlock(t, i, bufs[i])
	}
	errs, got := readAll(r, fd, 64)
	for i := range errs {
		require.NoError(t, errs[i])
		checkBlock(t, i, got[i])
	}
	st := r.Stats()
	require.Equal(t, st.Submitted, st.Completed)
	require.Zero(t, st.Foreign)
}

// With SQPOLL the kernel thread may take SQEs at any moment: a failed enter
// fails nobody early, and every op completes with its real result.
func TestFaultEnterSQPoll(t *testing.T) {
	r := newRing(t, uring.WithSQPoll(time.Second, -1))
	fd := faultFile(t, 32)
	uring.InjectEnterFault(r, syscall.ENOMEM, 1)
	errs, bufs := readAll(r, fd, 32)
	for i := range errs {
		require.NoError(t, errs[i], "read %d", i)
		checkBlock(t, i, bufs[i])
	}
}

func TestFaultSetup(t *testing.T) {
	requireRing(t)
	// Sizes the caller set are kept: the failure is New's.
	uring.InjectSetupFault(syscall.ENOMEM, 1)
	_, err := uring.New(uring.WithShards(1), uring.WithEntries(256))
	require.ErrorIs(t, err, syscall.ENOMEM)
	r, err := uring.New()
	require.NoError(t, err, "the next setup works")
	require.NoError(t, r.Close())
}

// Sizes left to the default are fitted to what the kernel accepts (issue 25,
// defect 8, RLIMIT_MEMLOCK): ENOMEM on the first shard halves its entries.
// (A later shard's ENOMEM, which leaves the Ring with fewer shards, is
// TestDefect25Memlock64KiB's, under a real limit.)
func TestFaultSetupFits(t *testing.T) {
	requireRing(t)
	uring.InjectSetupFault(syscall.ENOMEM, 1)
	r, err := uring.New(uring.WithShards(1))
	require.NoError(t, err, "entries left to the default are fitted")
	require.Equal(t, 128, r.MaxBatch(), "one refusal: 256 entries halved")
	require.NoError(t, r.Close())

	uring.InjectSetupFault(syscall.ENOMEM, 2)
	r, err = uring.New()
	require.NoError(t, err)
	require.Equal(t, 64, r.MaxBatch(), "two refusals: halved twice")
	_, err = r.Do(context.Background(), ops.Nop())
	require.NoError(t, err)
	require.NoError(t, r.Close())

	uring.InjectSetupFault(syscall.ENOMEM, 1)
	_, err = uring.New(uring.WithShards(1), uring.WithEntries(256))
	require.ErrorIs(t, err, syscall.ENOMEM, "sizes the caller set are kept")
}

// A failed registration leaves nothing behind: the next one works, and
// buffers that failed to register are not kept pinned as registered.
func TestFaultRegister(t *testing.T) {
	r := newRing(t, uring.WithShards(2))
	uring.InjectRegisterFault(syscall.ENOMEM, 0, 1)
	require.ErrorIs(t, r.RegisterBuffers([][]byte{make([]byte, 4096)}), syscall.ENOMEM)
	require.ErrorContains(t, r.UnregisterBuffers(), "none registered")
	require.NoError(t, r.RegisterBuffers([][]byte{make([]byte, 4096)}))
	require.NoError(t, r.UnregisterBuffers())

	uring.InjectRegisterFault(syscall.ENOMEM, 0, 1)
	require.ErrorIs(t, r.RegisterFiles([]int{0}), syscall.ENOMEM)
	require.NoError(t, r.RegisterFiles([]int{0}))
	require.NoError(t, r.UnregisterFiles())
	uring.InjectRegisterFault(syscall.ENOMEM, 0, 1)
	require.ErrorIs(t, r.RegisterFilesSparse(8), syscall.ENOMEM)
	require.NoError(t, r.RegisterFilesSparse(8))

	// The second shard's buffer ring fails: the first one's is undone.
	uring.InjectRegisterFault(syscall.ENOMEM, 1, 1)
	_, err := r.NewBufferRing(5, 4, 64)
	require.ErrorIs(t, err, syscall.ENOMEM)
	br, err := r.NewBufferRing(5, 4, 64)
	require.NoError(t, err, "the group is free again")
	require.NoError(t, br.Close())
}

func TestKernelFloorMasks(t *testing.T) {
	requireRing(t)
	t.Cleanup(func() { uring.MaskKernel(0, 0) })
	for _, tc := range []struct {
		major, minor int
		lacks        string
	}{
		{5, 10, "IORING_SETUP_SUBMIT_ALL"},
		{5, 15, "IORING_SETUP_SUBMIT_ALL"},
		{5, 18, "IORING_ASYNC_CANCEL_ANY"},
		{5, 19, "IORING_SETUP_SINGLE_ISSUER"},
		{6, 0, "IORING_SETUP_DEFER_TASKRUN"},
	} {
		uring.MaskKernel(tc.major, tc.minor)
		for what, err := range map[string]error{"Available": uring.Available(), "New": newErr()} {
			require.ErrorIs(t, err, uring.ErrUnsupported, "%s on %d.%d", what, tc.major, tc.minor)
			require.ErrorContains(t, err, tc.lacks, "%s on %d.%d", what, tc.major, tc.minor)
			require.ErrorContains(t, err, "Linux 6.1 or newer")
		}
	}
	uring.MaskKernel(6, 1)
	require.NoError(t, uring.Available())
	r, err := uring.New(uring.WithShards(2))
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Do(context.Background(), ops.Nop())
	require.NoError(t, err)
	_, err = r.Do(context.Background(), ops.Op{Opcode: ops.OpFtruncate, Fd: 0}) // Linux 6.9
	require.ErrorIs(t, err, uring.ErrUnsupported, "an op newer than 6.1 is refused by the probe")
}

func newErr() error {
	r, err := uring.New()
	if err == nil {
		r.Close()
	}
	return err
}

// TestKernelMaskFromEnv checks what make floor relies on: URING_FAULT_KERNEL
// masks the kernel for the whole test binary, so New refuses and fs and net
// run on their fallbacks.
func TestKernelMaskFromEnv(t *testing.T) {
	v := os.Getenv("URING_FAULT_KERNEL")
	if v == "" {
		t.Skip("URING_FAULT_KERNEL is not set")
	}
	err := uring.Available()
	if v >= "6.1" && len(v) == len("6.1") {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, uring.ErrUnsupported, "URING_FAULT_KERNEL=%s", v)
	_, err = uring.Default()
	require.ErrorIs(t, err, uring.ErrUnsupported)
}

// TestLostEventfdSignal: the kernel posts a completion and then reads
// IORING_CQ_EVENTFD_DISABLED with no fence between, so a completion posted in
// the instant a submitter turns the eventfd back on can signal nothing while
// the submitter's own reap does not see it yet. The poller must then look
// again on its own while requests are in flight, even when it went to sleep
// with nothing in flight; it did not, and a Stream waited forever (seen once
// in ExampleRing_Stream under -race, both pollers asleep for minutes).
func TestLostEventfdSignal(t *testing.T) {
	for _, shape := range []string{"Do", "Stream"} {
		t.Run(shape, func(t *testing.T) {
			r := newRing(t, uring.WithShards(1))
			_, err := r.Do(context.Background(), ops.Nop())
			require.NoError(t, err)
			time.Sleep(50 * time.Millisecond) // the poller is back asleep, with nothing in flight
			uring.InjectLostSignal(r, 1)
			done := make(chan error, 1)
			go func() {
				if shape == "Do" {
					_, err := r.Do(context.Background(), ops.Timeout(20*time.Millisecond, 0, 0))
					done <- err
					return
				}
				for _, err := range r.Stream(context.Background(), ops.TimeoutMulti(20*time.Millisecond, 1)) {
					done <- err
					break
				}
			}()
			select {
			case err := <-done:
				require.ErrorIs(t, err, syscall.ETIME)
			case <-time.After(10 * time.Second):
				// A Nop's enter turns the eventfd back on and reaps what waits.
				_, err := r.Do(context.Background(), ops.Nop())
				require.NoError(t, err)
				<-done
				t.Fatal("a completion posted while the eventfd was silenced waited 10 s for a reap")
			}
		})
	}
}
