//go:build linux

package ops_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

func TestProvideRemoveBuffers(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpProvideBuffers, ops.OpRemoveBuffers, ops.OpRecv)
	const (
		group = 5
		first = 10 // buffer IDs 10..13
		size  = 32
		n     = 4
	)
	// The kernel writes into mem whenever a recv picks a buffer: it must
	// stay alive (the GC never moves it) until the buffers are used or removed.
	mem := make([]byte, n*size)
	defer runtime.KeepAlive(mem)
	res := do(t, r, ops.ProvideBuffers(mem, size, n, group, first))
	require.GreaterOrEqual(t, res.Res, int32(0))

	c, s := tcpPair(t)
	recv := ops.Recv(s, nil, 0).WithFlags(ops.FlagBufferSelect)
	recv.BufIndex = group

	do(t, r, ops.Send(c, []byte("picked by the kernel"), 0))
	res = do(t, r, recv)
	bid, ok := res.BufferID()
	require.True(t, ok, "the completion names the buffer it used")
	require.GreaterOrEqual(t, bid, uint16(first))
	require.Less(t, bid, uint16(first+n))
	at := int(bid-first) * size
	require.Equal(t, "picked by the kernel", string(mem[at:at+res.N()]))

	// A buffer caps the receive at its size.
	do(t, r, ops.Send(c, make([]byte, 2*size), 0))
	res = do(t, r, recv)
	require.Equal(t, size, res.N())
	bid2, ok := res.BufferID()
	require.True(t, ok)
	require.NotEqual(t, bid, bid2, "a used buffer is not handed out again")

	// Two buffers are left; removing up to 10 takes those two back.
	require.Equal(t, int32(n-2), do(t, r, ops.RemoveBuffers(10, group)).Res)
	_, err := r.Do(t.Context(), recv)
	require.ErrorIs(t, err, unix.ENOBUFS, "the group is empty")
	require.Equal(t, int32(0), do(t, r, ops.RemoveBuffers(1, group)).Res)
	_, err = r.Do(t.Context(), ops.RemoveBuffers(1, group+100))
	require.ErrorIs(t, err, unix.ENOENT, "no such group")

	// Read works with provided buffers too.
	do(t, r, ops.ProvideBuffers(mem[:size], size, 1, group+1, 0))
	pr, pw := pipe(t)
	_, err = unix.Write(pw, []byte("from a pipe"))
	require.NoError(t, err)
	read := ops.Read(pr, nil, -1).WithFlags(ops.FlagBufferSelect)
	read.BufIndex = group + 1
	res = do(t, r, read)
	bid, ok = res.BufferID()
	require.True(t, ok)
	require.Equal(t, uint16(0), bid)
	require.Equal(t, "from a pipe", string(mem[:res.N()]))
}

func TestFilesUpdate(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpFilesUpdate, ops.OpRead)
	require.NoError(t, r.RegisterFilesSparse(4))
	_, a := tempFile(t, []byte("file a"))
	_, b := tempFile(t, []byte("file b"))
	buf := make([]byte, 6)
	readFixed := func(index int) error {
		_, err := r.Do(t.Context(), ops.Read(index, buf, 0).WithFlags(ops.FlagFixedFile))
		return err
	}

	// The sparse table starts empty.
	require.ErrorIs(t, readFixed(2), unix.EBADF)

	res := do(t, r, ops.FilesUpdate([]int32{int32(a), int32(b)}, 2))
	require.Equal(t, 2, res.N(), "the result is the number of entries updated")
	require.NoError(t, readFixed(2))
	require.Equal(t, "file a", string(buf))
	require.NoError(t, readFixed(3))
	require.Equal(t, "file b", string(buf))

	// -1 clears an entry.
	require.Equal(t, 1, do(t, r, ops.FilesUpdate([]int32{-1}, 2)).N())
	require.ErrorIs(t, readFixed(2), unix.EBADF)
	require.NoError(t, readFixed(3))

	// Past the end of the table.
	_, err := r.Do(t.Context(), ops.FilesUpdate([]int32{int32(a)}, 4))
	require.ErrorIs(t, err, unix.EINVAL)
}

func TestMsgRing(t *testing.T) {
	sender := newRing(t)
	target := newRing(t)
	needOp(t, sender, ops.OpMsgRing)

	// The user_data's low 32 bits (0xbeef00) are no slot index of the
	// target's, so no request of its own can match the message.
	const userData = 0xfeed_00be_ef00
	before := target.Stats().Foreign
	res := do(t, sender, ops.MsgRing(target.Fd(), 42, userData, 0))
	require.Equal(t, int32(0), res.Res, "the sender's result is 0 once the message is posted")

	// The target reaps the message as a completion of no request.
	require.Eventually(t, func() bool { return target.Stats().Foreign == before+1 }, 5*time.Second, time.Millisecond)

	// The flags reach the kernel: IORING_MSG_RING_CQE_SKIP is only for
	// IORING_MSG_SEND_FD, so a data message refuses it.
	_, err := sender.Do(t.Context(), ops.MsgRing(target.Fd(), 1, userData, ops.MsgRingCQESkip))
	require.ErrorIs(t, err, unix.EINVAL)
	do(t, target, ops.Nop())
	require.Equal(t, before+1, target.Stats().Foreign)

	// A file that is not a ring is refused.
	_, fd := tempFile(t, nil)
	_, err = sender.Do(t.Context(), ops.MsgRing(fd, 0, 0, 0))
	require.ErrorIs(t, err, unix.EBADFD)

	t.Run("reaped while idle", func(t *testing.T) {
		// The completer watches the CQ through the netpoller whether or
		// not requests are in flight, so a message to an idle ring is
		// reaped when it lands.
		before := target.Stats().Foreign
		do(t, sender, ops.MsgRing(target.Fd(), 42, userData, 0))
		require.Eventually(t, func() bool { return target.Stats().Foreign > before }, time.Second, time.Millisecond)
	})
}

// A message whose user_data equals a pending request's ID must not complete
// that request: the kernel still owns the request's buffer.
func TestMsgRingCannotCompleteAnotherRequest(t *testing.T) {
	sender := newRing(t)
	target := newRing(t)
	needOp(t, sender, ops.OpMsgRing)
	pr, pw := pipe(t)
	buf := make([]byte, 8)
	fut, err := target.Submit(t.Context(), ops.Read(pr, buf, -1))
	require.NoError(t, err)

	do(t, sender, ops.MsgRing(target.Fd(), 7, fut.ID(), 0))
	requirePending(t, fut)
	_, err = unix.Write(pw, []byte("real"))
	require.NoError(t, err)
	res, err := fut.Wait()
	require.NoError(t, err)
	require.Equal(t, "real", string(buf[:res.N()]))
}

// A message with bit 63 of user_data set (the ring's tag for its own
// requests) must not upset the target's in-flight count.
func TestMsgRingInternalTagKeepsReaperAwake(t *testing.T) {
	sender := newRing(t)
	target := newRing(t)
	needOp(t, sender, ops.OpMsgRing)
	pr, pw := pipe(t)
	buf := make([]byte, 8)
	fut, err := target.Submit(t.Context(), ops.Read(pr, buf, -1))
	require.NoError(t, err)

	do(t, sender, ops.MsgRing(target.Fd(), 0, 1<<63, 0))
	// Let the target reap the message before the read can complete.
	require.Eventually(t, func() bool { return target.Stats().Completed > 0 }, time.Second, time.Millisecond)
	_, err = unix.Write(pw, []byte("wake"))
	require.NoError(t, err)
	select {
	case <-fut.Done():
	case <-time.After(time.Second):
		t.Fatal("the read completed in the kernel but its Future was never woken")
	}
}

func TestBuffersRejectBadInput(t *testing.T) {
	r := newRing(t)
	mem := make([]byte, 64)
	requireRejected(t, r, ops.ProvideBuffers(mem, 0, 1, 0, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.ProvideBuffers(mem, 16, 0, 0, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.ProvideBuffers(mem, -16, 1, 0, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.ProvideBuffers(mem, 16, 5, 0, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.ProvideBuffers(nil, 16, 1, 0, 0), ops.ErrNegativeLength)
	requireRejected(t, r, ops.RemoveBuffers(0, 1), ops.ErrNegativeLength)
	requireRejected(t, r, ops.FilesUpdate(nil, 0), ops.ErrNilBuffer)
	requireRejected(t, r, ops.FilesUpdate([]int32{1}, -1), ops.ErrNegativeOffset)
	requireRejected(t, r, ops.MsgRing(-1, 0, 0, 0), ops.ErrNegativeFd)
}
