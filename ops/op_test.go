//go:build linux

package ops_test

// Pure tests: how constructors encode SQE fields, with no ring and no kernel.

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

func TestOpcodeNumbersAndNames(t *testing.T) {
	// Values from include/uapi/linux/io_uring.h.
	for _, tc := range []struct {
		code ops.Opcode
		num  int
		name string
	}{
		{ops.OpNop, 0, "nop"},
		{ops.OpReadv, 1, "readv"},
		{ops.OpReadFixed, 4, "read_fixed"},
		{ops.OpPollAdd, 6, "poll_add"},
		{ops.OpSyncFileRange, 8, "sync_file_range"},
		{ops.OpTimeout, 11, "timeout"},
		{ops.OpAsyncCancel, 14, "async_cancel"},
		{ops.OpLinkTimeout, 15, "link_timeout"},
		{ops.OpOpenat, 18, "openat"},
		{ops.OpStatx, 21, "statx"},
		{ops.OpRead, 22, "read"},
		{ops.OpWrite, 23, "write"},
		{ops.OpRecv, 27, "recv"},
		{ops.OpOpenat2, 28, "openat2"},
		{ops.OpSplice, 30, "splice"},
		{ops.OpProvideBuffers, 31, "provide_buffers"},
		{ops.OpTee, 33, "tee"},
		{ops.OpRenameat, 35, "renameat"},
		{ops.OpLinkat, 39, "linkat"},
		{ops.OpMsgRing, 40, "msg_ring"},
		{ops.OpFsetxattr, 41, "fsetxattr"},
		{ops.OpGetxattr, 44, "getxattr"},
		{ops.OpSocket, 45, "socket"},
		{ops.OpSendZC, 47, "send_zc"},
		{ops.OpSendMsgZC, 48, "sendmsg_zc"},
		{ops.OpReadMultishot, 49, "read_multishot"},
		{ops.OpFtruncate, 55, "ftruncate"},
		{ops.OpBind, 56, "bind"},
		{ops.OpListen, 57, "listen"},
	} {
		require.Equal(t, tc.num, int(tc.code), tc.name)
		require.Equal(t, tc.name, tc.code.String())
	}

	// Every known opcode has its own name; unknown ones are numbered.
	seen := map[string]ops.Opcode{}
	for c := ops.OpNop; c < ops.OpLast; c++ {
		name := c.String()
		require.NotEmpty(t, name)
		require.False(t, strings.HasPrefix(name, "op_"), "opcode %d has no name", c)
		prev, dup := seen[name]
		require.False(t, dup, "opcodes %d and %d share the name %q", prev, c, name)
		seen[name] = c
	}
	require.Equal(t, "op_58", ops.OpLast.String())
	require.Equal(t, "op_255", ops.Opcode(255).String())
	require.Equal(t, "op_100", ops.Opcode(100).String())
}

func TestFlagValues(t *testing.T) {
	// IOSQE_* bits, IORING_CQE_F_* bits and per-op flags as the kernel defines them.
	require.Equal(t, []uint8{1, 2, 4, 8, 16, 32, 64}, []uint8{ops.FlagFixedFile, ops.FlagIODrain,
		ops.FlagIOLink, ops.FlagIOHardLink, ops.FlagAsync, ops.FlagBufferSelect, ops.FlagCQESkip})
	require.Equal(t, []uint32{1, 2, 4, 8}, []uint32{ops.CQEFlagBuffer, ops.CQEFlagMore,
		ops.CQEFlagSockNonEmpty, ops.CQEFlagNotif})
	require.Equal(t, []uint32{1, 2, 4, 8, 16, 32, 64}, []uint32{ops.TimeoutAbs, ops.TimeoutUpdate,
		ops.TimeoutBoottime, ops.TimeoutRealtime, ops.LinkTimeoutUpdate, ops.TimeoutETimeSuccess, ops.TimeoutMultishot})
	require.Equal(t, []uint32{1, 2, 4, 8}, []uint32{ops.CancelAll, ops.CancelFd, ops.CancelAny, ops.CancelFdFixed})
	require.Equal(t, uint32(1<<31), ops.SpliceFdInFixed)
	require.Equal(t, uint32(0xffffffff), ops.FileIndexAlloc)
}

func TestLinkFlags(t *testing.T) {
	op := ops.Read(3, make([]byte, 4), 0)
	linked := op.Link()
	require.Equal(t, ops.FlagIOLink, linked.Flags)
	require.Zero(t, op.Flags, "Link returns a copy; the original is unchanged")
	require.Equal(t, ops.FlagIOHardLink, op.HardLink().Flags)
	require.Equal(t, ops.FlagIOLink|ops.FlagIOHardLink, op.Link().HardLink().Flags)

	// WithFlags adds to the flags already set.
	both := op.Link().WithFlags(ops.FlagAsync | ops.FlagFixedFile)
	require.Equal(t, ops.FlagIOLink|ops.FlagAsync|ops.FlagFixedFile, both.Flags)
	require.Equal(t, ops.FlagBufferSelect, ops.RecvMulti(3, 1, 0).Flags, "RecvMulti selects buffers itself")
	require.Equal(t, ops.FlagBufferSelect|ops.FlagIOLink, ops.RecvMulti(3, 1, 0).Link().Flags)

	// The rest of the op is untouched.
	require.Equal(t, op.Fd, linked.Fd)
	require.Equal(t, op.Addr, linked.Addr)
	require.Equal(t, op.Len, linked.Len)
}

func TestMultishot(t *testing.T) {
	var rsa unix.RawSockaddrAny
	var alen uint32
	recvMsgMulti := ops.RecvMsg(3, nil, nil, nil, 0)
	recvMsgMulti.IoPrio |= ops.RecvMultishot
	sendWithBit := ops.Send(3, nil, 0)
	sendWithBit.IoPrio |= ops.RecvMultishot
	for _, tc := range []struct {
		name string
		op   ops.Op
		want bool
	}{
		{"nop", ops.Nop(), false},
		{"zero op", ops.Op{}, false},
		{"accept", ops.Accept(3, &rsa, &alen, 0), false},
		{"accept multishot", ops.AcceptMulti(3, 0), true},
		{"recv", ops.Recv(3, make([]byte, 1), 0), false},
		{"recv multishot", ops.RecvMulti(3, 1, 0), true},
		{"recvmsg", ops.RecvMsg(3, nil, nil, nil, 0), false},
		{"recvmsg multishot", recvMsgMulti, true},
		{"poll", ops.PollAdd(3, unix.POLLIN), false},
		{"poll multishot", ops.PollMultishot(3, unix.POLLIN), true},
		{"timeout", ops.Timeout(time.Second, 0, 0), false},
		{"timeout multishot", ops.TimeoutMulti(time.Second, 0), true},
		{"read multishot", ops.Op{Opcode: ops.OpReadMultishot}, true},
		{"read", ops.Read(3, nil, 0), false},
		{"send with the recv bit", sendWithBit, false},
		{"send_zc", ops.SendZC(3, []byte("x"), 0), false},
		{"link timeout", ops.LinkTimeout(time.Second, 0), false},
		{"rejected accept multishot", ops.AcceptMulti(-1, 0), false},
		{"rejected poll multishot", ops.PollMultishot(-1, unix.POLLIN), false},
	} {
		require.Equal(t, tc.want, tc.op.Multishot(), tc.name)
	}
}

// TestEncoding checks the SQE fields each constructor fills against the
// liburing helper it implements (liburing.h, io_uring_prep_*).
func TestEncoding(t *testing.T) {
	buf := make([]byte, 10)
	bufs := [][]byte{buf, buf}
	var st unix.Statx_t
	how := &unix.OpenHow{Flags: unix.O_RDONLY}
	var rsa unix.RawSockaddrAny
	var alen uint32
	fds := []int32{4, 5, 6}
	sa := &unix.SockaddrInet4{Port: 80}
	p := unsafe.Pointer(&buf[0])

	for _, tc := range []struct {
		name string
		got  ops.Op
		want ops.Op
	}{
		{"nop", ops.Nop(), ops.Op{}},
		{"read", ops.Read(3, buf, 7), ops.Op{Opcode: ops.OpRead, Fd: 3, Addr: p, Len: 10, Off: 7}},
		{"read at position", ops.Read(3, buf, -1), ops.Op{Opcode: ops.OpRead, Fd: 3, Addr: p, Len: 10, Off: ^uint64(0)}},
		{"write", ops.Write(3, buf, 0), ops.Op{Opcode: ops.OpWrite, Fd: 3, Addr: p, Len: 10}},
		{"read empty", ops.Read(3, nil, 0), ops.Op{Opcode: ops.OpRead, Fd: 3}},
		{"read_fixed", ops.ReadFixed(3, buf, 1, 2), ops.Op{Opcode: ops.OpReadFixed, Fd: 3, Addr: p, Len: 10, Off: 1, BufIndex: 2}},
		{"write_fixed", ops.WriteFixed(3, buf, 1, 2), ops.Op{Opcode: ops.OpWriteFixed, Fd: 3, Addr: p, Len: 10, Off: 1, BufIndex: 2}},
		{"readv", ops.Readv(3, bufs, 5), ops.Op{Opcode: ops.OpReadv, Fd: 3, Bufs: bufs, Len: 2, Off: 5, Kind: ops.ArgIovec}},
		{"writev", ops.Writev(3, bufs, 5), ops.Op{Opcode: ops.OpWritev, Fd: 3, Bufs: bufs, Len: 2, Off: 5, Kind: ops.ArgIovec}},
		{"fsync", ops.Fsync(3), ops.Op{Opcode: ops.OpFsync, Fd: 3}},
		{"fdatasync", ops.Fdatasync(3), ops.Op{Opcode: ops.OpFsync, Fd: 3, OpFlags: ops.FsyncDatasync}},
		{"sync_file_range", ops.SyncFileRange(3, 8, 16, 2), ops.Op{Opcode: ops.OpSyncFileRange, Fd: 3, Off: 8, Len: 16, OpFlags: 2}},
		{"fallocate", ops.Fallocate(3, 1, 8, 1<<40), ops.Op{Opcode: ops.OpFallocate, Fd: 3, Len: 1, Off: 8, AddrVal: 1 << 40}},
		{"fadvise", ops.Fadvise(3, 8, 16, 4), ops.Op{Opcode: ops.OpFadvise, Fd: 3, Off: 8, Len: 16, OpFlags: 4}},
		{"madvise", ops.Madvise(buf, 4), ops.Op{Opcode: ops.OpMadvise, Fd: -1, Addr: p, Len: 10, OpFlags: 4}},
		{"openat", ops.Openat(unix.AT_FDCWD, "/x", unix.O_CREAT, 0o644), ops.Op{Opcode: ops.OpOpenat, Fd: unix.AT_FDCWD,
			Str: [3]string{"/x"}, Len: 0o644, OpFlags: unix.O_CREAT}},
		{"openat2", ops.Openat2(3, "x", how), ops.Op{Opcode: ops.OpOpenat2, Fd: 3, Str: [3]string{"x"},
			Len: uint32(unsafe.Sizeof(*how)), Addr2: unsafe.Pointer(how)}},
		{"close", ops.Close(3), ops.Op{Opcode: ops.OpClose, Fd: 3}},
		{"close_direct", ops.CloseFixed(0), ops.Op{Opcode: ops.OpClose, SpliceFdIn: 1}},
		{"statx", ops.Statx(3, "x", 0, unix.STATX_SIZE, &st), ops.Op{Opcode: ops.OpStatx, Fd: 3, Str: [3]string{"x"},
			Len: unix.STATX_SIZE, Addr2: unsafe.Pointer(&st)}},
		{"unlinkat", ops.Unlinkat(3, "x", unix.AT_REMOVEDIR), ops.Op{Opcode: ops.OpUnlinkat, Fd: 3, Str: [3]string{"x"},
			OpFlags: unix.AT_REMOVEDIR}},
		{"renameat", ops.Renameat(3, "a", 4, "b", 1), ops.Op{Opcode: ops.OpRenameat, Fd: 3, Str: [3]string{"a", "b"}, Len: 4, OpFlags: 1}},
		{"renameat cwd", ops.Renameat(unix.AT_FDCWD, "a", unix.AT_FDCWD, "b", 0), ops.Op{Opcode: ops.OpRenameat,
			Fd: unix.AT_FDCWD, Str: [3]string{"a", "b"}, Len: uint32(0xffffff9c)}},
		{"mkdirat", ops.Mkdirat(3, "d", 0o755), ops.Op{Opcode: ops.OpMkdirat, Fd: 3, Str: [3]string{"d"}, Len: 0o755}},
		{"symlinkat", ops.Symlinkat("t", 3, "l"), ops.Op{Opcode: ops.OpSymlinkat, Fd: 3, Str: [3]string{"t", "l"}}},
		{"linkat", ops.Linkat(3, "a", 4, "b", unix.AT_SYMLINK_FOLLOW), ops.Op{Opcode: ops.OpLinkat, Fd: 3,
			Str: [3]string{"a", "b"}, Len: 4, OpFlags: unix.AT_SYMLINK_FOLLOW}},
		{"splice", ops.Splice(3, 5, 4, -1, 100, 1), ops.Op{Opcode: ops.OpSplice, Fd: 4, Off: ^uint64(0), AddrVal: 5,
			SpliceFdIn: 3, Len: 100, OpFlags: 1}},
		{"tee", ops.Tee(3, 4, 100, 1), ops.Op{Opcode: ops.OpTee, Fd: 4, SpliceFdIn: 3, Len: 100, OpFlags: 1}},
		{"poll_add", ops.PollAdd(3, unix.POLLIN), ops.Op{Opcode: ops.OpPollAdd, Fd: 3, OpFlags: unix.POLLIN}},
		{"poll_multishot", ops.PollMultishot(3, unix.POLLIN), ops.Op{Opcode: ops.OpPollAdd, Fd: 3, OpFlags: unix.POLLIN,
			Len: ops.PollAddMulti}},
		{"poll_remove", ops.PollRemove(99), ops.Op{Opcode: ops.OpPollRemove, Fd: -1, AddrVal: 99}},
		{"timeout", ops.Timeout(1500*time.Millisecond, 2, ops.TimeoutAbs), ops.Op{Opcode: ops.OpTimeout, Fd: -1, Len: 1,
			Off: 2, OpFlags: ops.TimeoutAbs, Timespec: 1.5e9, Kind: ops.ArgTimespec}},
		{"timeout negative", ops.Timeout(-time.Second, 0, 0), ops.Op{Opcode: ops.OpTimeout, Fd: -1, Len: 1, Kind: ops.ArgTimespec}},
		{"timeout multishot", ops.TimeoutMulti(time.Millisecond, 3), ops.Op{Opcode: ops.OpTimeout, Fd: -1, Len: 1, Off: 3,
			OpFlags: ops.TimeoutMultishot, Timespec: 1e6, Kind: ops.ArgTimespec}},
		{"timeout_remove", ops.TimeoutRemove(99, 0), ops.Op{Opcode: ops.OpTimeoutRemove, Fd: -1, AddrVal: 99}},
		{"link_timeout", ops.LinkTimeout(time.Second, 0), ops.Op{Opcode: ops.OpLinkTimeout, Fd: -1, Len: 1, Timespec: 1e9,
			Kind: ops.ArgTimespec}},
		{"cancel64", ops.AsyncCancel(99, ops.CancelAll), ops.Op{Opcode: ops.OpAsyncCancel, Fd: -1, AddrVal: 99,
			OpFlags: ops.CancelAll}},
		{"cancel_fd", ops.CancelFD(3, ops.CancelAll), ops.Op{Opcode: ops.OpAsyncCancel, Fd: 3, OpFlags: ops.CancelAll | ops.CancelFd}},
		{"provide_buffers", ops.ProvideBuffers(buf, 5, 2, 7, 3), ops.Op{Opcode: ops.OpProvideBuffers, Fd: 2, Addr: p, Len: 5,
			Off: 3, BufIndex: 7}},
		{"remove_buffers", ops.RemoveBuffers(2, 7), ops.Op{Opcode: ops.OpRemoveBuffers, Fd: 2, BufIndex: 7}},
		{"files_update", ops.FilesUpdate(fds, 2), ops.Op{Opcode: ops.OpFilesUpdate, Fd: -1, Addr: unsafe.Pointer(&fds[0]),
			Len: 3, Off: 2}},
		{"msg_ring", ops.MsgRing(3, 42, 99, 0), ops.Op{Opcode: ops.OpMsgRing, Fd: 3, AddrVal: ops.MsgData, Len: 42, Off: 99}},
		{"getxattr", ops.Getxattr("/p", "user.n", buf), ops.Op{Opcode: ops.OpGetxattr, Str: [3]string{"user.n", "", "/p"},
			Addr2: p, Len: 10}},
		{"setxattr", ops.Setxattr("/p", "user.n", buf, 1), ops.Op{Opcode: ops.OpSetxattr, Str: [3]string{"user.n", "", "/p"},
			Addr2: p, Len: 10, OpFlags: 1}},
		{"fgetxattr", ops.Fgetxattr(3, "user.n", buf), ops.Op{Opcode: ops.OpFgetxattr, Fd: 3, Str: [3]string{"user.n"},
			Addr2: p, Len: 10}},
		{"fsetxattr", ops.Fsetxattr(3, "user.n", buf, 2), ops.Op{Opcode: ops.OpFsetxattr, Fd: 3, Str: [3]string{"user.n"},
			Addr2: p, Len: 10, OpFlags: 2}},
		{"socket", ops.Socket(unix.AF_INET, unix.SOCK_STREAM, 6), ops.Op{Opcode: ops.OpSocket, Fd: unix.AF_INET,
			Off: unix.SOCK_STREAM, Len: 6}},
		{"accept", ops.Accept(3, &rsa, &alen, unix.SOCK_CLOEXEC), ops.Op{Opcode: ops.OpAccept, Fd: 3, OpFlags: unix.SOCK_CLOEXEC,
			Addr: unsafe.Pointer(&rsa), Addr2: unsafe.Pointer(&alen)}},
		{"accept half an address", ops.Accept(3, &rsa, nil, 0), ops.Op{Opcode: ops.OpAccept, Fd: 3}},
		{"multishot_accept", ops.AcceptMulti(3, 0), ops.Op{Opcode: ops.OpAccept, Fd: 3, IoPrio: ops.AcceptMultishot}},
		{"connect", ops.Connect(3, sa), ops.Op{Opcode: ops.OpConnect, Fd: 3, Sockaddr: sa, Kind: ops.ArgSockaddr}},
		{"bind", ops.Bind(3, sa), ops.Op{Opcode: ops.OpBind, Fd: 3, Sockaddr: sa, Kind: ops.ArgSockaddr}},
		{"listen", ops.Listen(3, 128), ops.Op{Opcode: ops.OpListen, Fd: 3, Len: 128}},
		{"send", ops.Send(3, buf, unix.MSG_NOSIGNAL), ops.Op{Opcode: ops.OpSend, Fd: 3, Addr: p, Len: 10, OpFlags: unix.MSG_NOSIGNAL}},
		{"recv", ops.Recv(3, buf, unix.MSG_PEEK), ops.Op{Opcode: ops.OpRecv, Fd: 3, Addr: p, Len: 10, OpFlags: unix.MSG_PEEK}},
		{"recv_multishot", ops.RecvMulti(3, 7, 0), ops.Op{Opcode: ops.OpRecv, Fd: 3, IoPrio: ops.RecvMultishot,
			Flags: ops.FlagBufferSelect, BufIndex: 7}},
		{"send_zc", ops.SendZC(3, buf, 0), ops.Op{Opcode: ops.OpSendZC, Fd: 3, Addr: p, Len: 10}},
		{"sendmsg", ops.SendMsg(3, bufs, buf, sa, 1), ops.Op{Opcode: ops.OpSendMsg, Fd: 3, Bufs: bufs, OOB: buf, Sockaddr: sa,
			Len: 1, OpFlags: 1, Kind: ops.ArgMsghdr}},
		{"recvmsg", ops.RecvMsg(3, bufs, buf, &rsa, 1), ops.Op{Opcode: ops.OpRecvMsg, Fd: 3, Bufs: bufs, OOB: buf,
			Addr2: unsafe.Pointer(&rsa), Len: 1, OpFlags: 1, Kind: ops.ArgMsghdr}},
		{"shutdown", ops.Shutdown(3, unix.SHUT_WR), ops.Op{Opcode: ops.OpShutdown, Fd: 3, Len: unix.SHUT_WR}},
	} {
		require.NoError(t, tc.got.Err(), tc.name)
		require.Equal(t, tc.want, tc.got, tc.name)
	}

	// Statx with AT_EMPTY_PATH points sqe.addr at a static empty string.
	op := ops.Statx(3, "", unix.AT_EMPTY_PATH, unix.STATX_SIZE, &st)
	require.NoError(t, op.Err())
	require.Equal(t, [3]string{}, op.Str)
	require.NotZero(t, op.AddrVal)
	addr := op.AddrVal
	empty := *(*unsafe.Pointer)(unsafe.Pointer(&addr)) // static data: the address stays valid
	require.Equal(t, byte(0), *(*byte)(empty))
}

func TestRejectedOpKeepsOpcode(t *testing.T) {
	// A rejected Op still says what it was, so errors can name the operation.
	for _, op := range []ops.Op{
		ops.Read(-1, nil, 0), ops.Openat(unix.AT_FDCWD, "", 0, 0), ops.Connect(3, nil), ops.Bind(3, nil),
		ops.ProvideBuffers(nil, 0, 0, 0, 0), ops.CloseFixed(-1),
	} {
		require.Error(t, op.Err())
		require.NotEqual(t, ops.OpNop, op.Opcode)
		require.False(t, op.Multishot())
	}
	require.Equal(t, ops.OpBind, ops.Bind(3, nil).Opcode)
	// SendZC reports a rejected op as a send (it swaps the opcode only on
	// success); harmless, since a rejected op never reaches the kernel.
	require.Equal(t, ops.OpSend, ops.SendZC(-1, nil, 0).Opcode)
	require.Equal(t, ops.OpClose, ops.CloseFixed(-1).Opcode)
}

func TestSockaddrRoundTrip(t *testing.T) {
	long := strings.Repeat("p", 107)
	for _, tc := range []struct {
		name string
		sa   unix.Sockaddr
		n    int
	}{
		{"inet4", &unix.SockaddrInet4{Port: 8080, Addr: [4]byte{127, 0, 0, 1}}, unix.SizeofSockaddrInet4},
		{"inet4 zero", &unix.SockaddrInet4{}, unix.SizeofSockaddrInet4},
		{"inet4 max port", &unix.SockaddrInet4{Port: 65535, Addr: [4]byte{10, 1, 2, 3}}, unix.SizeofSockaddrInet4},
		{"inet6", &unix.SockaddrInet6{Port: 443, Addr: [16]byte{15: 1}}, unix.SizeofSockaddrInet6},
		{"inet6 zone", &unix.SockaddrInet6{Port: 1, ZoneId: 3, Addr: [16]byte{0: 0xfe, 1: 0x80, 15: 9}}, unix.SizeofSockaddrInet6},
		{"unix path", &unix.SockaddrUnix{Name: "/tmp/sock"}, 2 + 9 + 1},
		{"unix longest path", &unix.SockaddrUnix{Name: long}, 2 + 107 + 1},
		{"unix abstract", &unix.SockaddrUnix{Name: "@abstract"}, 2 + 9},
		{"unix unnamed", &unix.SockaddrUnix{}, 2},
	} {
		dst := make([]byte, unix.SizeofSockaddrAny)
		n, err := ops.EncodeSockaddr(tc.sa, dst)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.n, n, tc.name)
		got, err := ops.DecodeSockaddr(rawSockaddr(dst))
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.sa, got, tc.name)
	}
}

func TestEncodeSockaddrLayout(t *testing.T) {
	dst := bytes.Repeat([]byte{0xee}, unix.SizeofSockaddrAny)
	n, err := ops.EncodeSockaddr(&unix.SockaddrInet4{Port: 0x1234, Addr: [4]byte{127, 0, 0, 1}}, dst)
	require.NoError(t, err)
	require.Equal(t, 16, n)
	// sin_family in host order, sin_port in network order, then the address
	// and eight bytes of zero padding.
	require.Equal(t, []byte{unix.AF_INET, 0, 0x12, 0x34, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, dst[:16])

	dst = bytes.Repeat([]byte{0xee}, unix.SizeofSockaddrAny)
	n, err = ops.EncodeSockaddr(&unix.SockaddrUnix{Name: "@ab"}, dst)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.Equal(t, []byte{unix.AF_UNIX, 0, 0, 'a', 'b'}, dst[:n], "an abstract name starts with NUL")

	dst = bytes.Repeat([]byte{0xee}, unix.SizeofSockaddrAny)
	n, err = ops.EncodeSockaddr(&unix.SockaddrUnix{Name: "/s"}, dst)
	require.NoError(t, err)
	require.Equal(t, []byte{unix.AF_UNIX, 0, '/', 's', 0}, dst[:n], "a path is NUL-terminated")
}

func TestSockaddrErrors(t *testing.T) {
	dst := make([]byte, unix.SizeofSockaddrAny)
	for _, sa := range []unix.Sockaddr{
		nil,
		(*unix.SockaddrInet4)(nil),
		(*unix.SockaddrInet6)(nil),
		(*unix.SockaddrUnix)(nil),
		&unix.SockaddrInet4{Port: -1},
		&unix.SockaddrInet4{Port: 65536},
		&unix.SockaddrInet6{Port: 1 << 20},
		&unix.SockaddrUnix{Name: strings.Repeat("x", 108)},
		&unix.SockaddrLinklayer{},
		&unix.SockaddrNetlink{},
	} {
		_, err := ops.EncodeSockaddr(sa, dst)
		require.ErrorIs(t, err, ops.ErrBadSockaddr, "%#v", sa)
	}
	require.Panics(t, func() { ops.EncodeSockaddr(&unix.SockaddrInet4{}, make([]byte, 8)) },
		"a short destination is a programming error, not a silent overrun")

	var rsa unix.RawSockaddrAny
	rsa.Addr.Family = unix.AF_NETLINK
	_, err := ops.DecodeSockaddr(&rsa)
	require.ErrorIs(t, err, ops.ErrBadSockaddr)
}

func rawSockaddr(b []byte) *unix.RawSockaddrAny {
	var rsa unix.RawSockaddrAny
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&rsa)), unsafe.Sizeof(rsa)), b)
	return &rsa
}

func FuzzEncodeSockaddr(f *testing.F) {
	f.Add(uint8(0), 80, []byte{127, 0, 0, 1}, uint32(0), "")
	f.Add(uint8(1), 443, []byte{15: 1}, uint32(2), "")
	f.Add(uint8(2), 0, []byte(nil), uint32(0), "/tmp/s")
	f.Add(uint8(2), 0, []byte(nil), uint32(0), "@abstract")
	f.Add(uint8(2), 0, []byte(nil), uint32(0), "@")
	f.Add(uint8(2), 0, []byte(nil), uint32(0), "a\x00b")
	f.Add(uint8(0), -1, []byte(nil), uint32(0), "")
	f.Add(uint8(1), 65536, []byte(nil), uint32(0), "")
	f.Fuzz(func(t *testing.T, kind uint8, port int, addr []byte, zone uint32, name string) {
		var sa unix.Sockaddr
		valid := true
		switch kind % 4 {
		case 0:
			a := &unix.SockaddrInet4{Port: port}
			copy(a.Addr[:], addr)
			sa, valid = a, port >= 0 && port <= 0xffff
		case 1:
			a := &unix.SockaddrInet6{Port: port, ZoneId: zone}
			copy(a.Addr[:], addr)
			sa, valid = a, port >= 0 && port <= 0xffff
		case 2:
			sa, valid = &unix.SockaddrUnix{Name: name}, len(name) < 108
		case 3:
			sa, valid = &unix.SockaddrLinklayer{}, false
		}
		dst := make([]byte, unix.SizeofSockaddrAny)
		n, err := ops.EncodeSockaddr(sa, dst)
		if !valid {
			require.ErrorIs(t, err, ops.ErrBadSockaddr)
			return
		}
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, 2)
		require.LessOrEqual(t, n, unix.SizeofSockaddrAny)

		got, err := ops.DecodeSockaddr(rawSockaddr(dst))
		require.NoError(t, err)
		if u, ok := sa.(*unix.SockaddrUnix); ok {
			// Without the length, a decoded unix name ends at the first NUL:
			// names holding one, and the empty abstract name "@", do not
			// survive the trip.
			if strings.IndexByte(u.Name, 0) >= 0 || u.Name == "@" {
				return
			}
		}
		require.Equal(t, sa, got)
	})
}

// FuzzConstructors feeds arbitrary descriptors, offsets and lengths to the
// constructors: none may panic, and Err is set exactly when an argument is
// out of its documented range.
func FuzzConstructors(f *testing.F) {
	f.Add(3, int64(0), 10, 4, "path")
	f.Add(-1, int64(-1), 0, 0, "")
	f.Add(0, int64(-2), -1, -1, "x")
	f.Add(unix.AT_FDCWD, int64(1<<40), 1<<32, 1<<31, "/abs")
	f.Add(1<<40, int64(-1), 1<<33, 70000, "p")
	f.Fuzz(func(t *testing.T, fd int, off int64, n int, idx int, path string) {
		small := make([]byte, min(max(n, 0), 256))
		bufs := [][]byte{small, small}
		n64 := int64(n)
		lenOK := n >= 0 && uint64(n) <= 1<<32-1
		badFd := fd < 0
		check := func(name string, op ops.Op, code ops.Opcode, invalid bool) {
			t.Helper()
			require.Equal(t, code, op.Opcode, name)
			if invalid {
				require.Error(t, op.Err(), name)
			} else {
				require.NoError(t, op.Err(), name)
			}
		}

		check("read", ops.Read(fd, small, off), ops.OpRead, badFd || off < -1)
		check("write", ops.Write(fd, small, off), ops.OpWrite, badFd || off < -1)
		check("read_fixed", ops.ReadFixed(fd, small, off, idx), ops.OpReadFixed, badFd || off < -1)
		check("write_fixed", ops.WriteFixed(fd, small, off, idx), ops.OpWriteFixed, badFd || off < -1)
		check("readv", ops.Readv(fd, bufs, off), ops.OpReadv, badFd || off < -1)
		check("writev", ops.Writev(fd, bufs, off), ops.OpWritev, badFd || off < -1)
		check("fsync", ops.Fsync(fd), ops.OpFsync, badFd)
		check("fdatasync", ops.Fdatasync(fd), ops.OpFsync, badFd)
		check("sync_file_range", ops.SyncFileRange(fd, off, n64, 0), ops.OpSyncFileRange, badFd || off < 0 || !lenOK)
		check("fallocate", ops.Fallocate(fd, 0, off, n64), ops.OpFallocate, badFd || off < 0 || n < 0)
		check("fadvise", ops.Fadvise(fd, off, n64, 0), ops.OpFadvise, badFd || off < 0 || !lenOK)
		check("madvise", ops.Madvise(small, 0), ops.OpMadvise, len(small) == 0)
		check("splice", ops.Splice(fd, off, idx, -1, n, 0), ops.OpSplice, badFd || idx < 0 || off < -1 || !lenOK)
		check("splice out", ops.Splice(idx, -1, fd, off, n, 0), ops.OpSplice, badFd || idx < 0 || off < -1 || !lenOK)
		check("tee", ops.Tee(fd, idx, n, 0), ops.OpTee, badFd || idx < 0 || !lenOK)
		check("poll_add", ops.PollAdd(fd, 1), ops.OpPollAdd, badFd)
		check("poll_multishot", ops.PollMultishot(fd, 1), ops.OpPollAdd, badFd)
		check("close", ops.Close(fd), ops.OpClose, badFd)
		check("close_direct", ops.CloseFixed(idx), ops.OpClose, idx < 0 || idx >= 1<<31-1)
		check("cancel_fd", ops.CancelFD(fd, 0), ops.OpAsyncCancel, badFd)
		check("msg_ring", ops.MsgRing(fd, 0, 0, 0), ops.OpMsgRing, badFd)

		badDir := fd < 0 && fd != unix.AT_FDCWD
		how := &unix.OpenHow{}
		var st unix.Statx_t
		check("openat", ops.Openat(fd, path, 0, 0), ops.OpOpenat, path == "" || badDir)
		check("openat2", ops.Openat2(fd, path, how), ops.OpOpenat2, path == "" || badDir)
		check("statx", ops.Statx(fd, path, 0, 0, &st), ops.OpStatx, path == "")
		check("statx empty path", ops.Statx(fd, path, unix.AT_EMPTY_PATH, 0, &st), ops.OpStatx, false)
		check("unlinkat", ops.Unlinkat(fd, path, 0), ops.OpUnlinkat, path == "")
		check("mkdirat", ops.Mkdirat(fd, path, 0), ops.OpMkdirat, path == "")
		check("renameat", ops.Renameat(fd, path, idx, "b", 0), ops.OpRenameat, path == "")
		check("symlinkat", ops.Symlinkat("t", fd, path), ops.OpSymlinkat, path == "")
		check("linkat", ops.Linkat(fd, "a", idx, path, 0), ops.OpLinkat, path == "")
		check("getxattr", ops.Getxattr("/p", path, small), ops.OpGetxattr, path == "")
		check("setxattr", ops.Setxattr(path, "user.x", small, 0), ops.OpSetxattr, path == "")
		check("fgetxattr", ops.Fgetxattr(fd, path, small), ops.OpFgetxattr, badFd || path == "")
		check("fsetxattr", ops.Fsetxattr(fd, path, small, 0), ops.OpFsetxattr, badFd || path == "")

		var rsa unix.RawSockaddrAny
		var alen uint32
		badPort := idx < 0 || idx > 0xffff
		check("accept", ops.Accept(fd, &rsa, &alen, 0), ops.OpAccept, badFd)
		check("multishot_accept", ops.AcceptMulti(fd, 0), ops.OpAccept, badFd)
		check("connect", ops.Connect(fd, &unix.SockaddrInet4{Port: idx}), ops.OpConnect, badFd || badPort)
		check("bind", ops.Bind(fd, &unix.SockaddrInet6{Port: idx}), ops.OpBind, badFd || badPort)
		check("connect unix", ops.Connect(fd, &unix.SockaddrUnix{Name: path}), ops.OpConnect, badFd || len(path) >= 108)
		check("listen", ops.Listen(fd, n), ops.OpListen, badFd)
		check("send", ops.Send(fd, small, 0), ops.OpSend, badFd)
		check("recv", ops.Recv(fd, small, 0), ops.OpRecv, badFd)
		check("recv_multishot", ops.RecvMulti(fd, 0, 0), ops.OpRecv, badFd)
		if op := ops.SendZC(fd, small, 0); badFd {
			require.ErrorIs(t, op.Err(), ops.ErrNegativeFd) // Opcode says send, not send_zc: see TestRejectedOpKeepsOpcode
		} else {
			check("send_zc", op, ops.OpSendZC, false)
		}
		check("sendmsg", ops.SendMsg(fd, bufs, small, &unix.SockaddrInet4{Port: idx}, 0), ops.OpSendMsg, badFd || badPort)
		check("recvmsg", ops.RecvMsg(fd, bufs, small, &rsa, 0), ops.OpRecvMsg, badFd)
		check("shutdown", ops.Shutdown(fd, n), ops.OpShutdown, badFd)
		check("socket", ops.Socket(fd, n, idx), ops.OpSocket, false)

		// Buffer groups: sizes and counts within a small memory block.
		size, count := n%512, idx%64
		mem := make([]byte, 1024)
		check("provide_buffers", ops.ProvideBuffers(mem, size, count, 1, 0), ops.OpProvideBuffers,
			size <= 0 || count <= 0 || size*count > len(mem))
		check("remove_buffers", ops.RemoveBuffers(n, 1), ops.OpRemoveBuffers, n <= 0)
		check("files_update", ops.FilesUpdate(make([]int32, len(small)), idx), ops.OpFilesUpdate, len(small) == 0 || idx < 0)

		// Ops without argument checks never fail; durations clamp at zero.
		d := time.Duration(off)
		for _, op := range []ops.Op{ops.Timeout(d, n, 0), ops.TimeoutMulti(d, n), ops.LinkTimeout(d, 0)} {
			require.NoError(t, op.Err())
			require.GreaterOrEqual(t, op.Timespec, int64(0))
			require.Equal(t, ops.ArgTimespec, op.Kind)
		}
		check("timeout_remove", ops.TimeoutRemove(uint64(off), 0), ops.OpTimeoutRemove, false)
		check("poll_remove", ops.PollRemove(uint64(off)), ops.OpPollRemove, false)
		check("cancel64", ops.AsyncCancel(uint64(off), 0), ops.OpAsyncCancel, false)

		// Valid ops carry their arguments unchanged.
		if op := ops.Read(fd, small, off); op.Err() == nil {
			require.Equal(t, int32(fd), op.Fd)
			require.Equal(t, uint64(off), op.Off)
			require.Equal(t, uint32(len(small)), op.Len)
		}
		if op := ops.Splice(fd, off, idx, -1, n, 0); op.Err() == nil {
			require.Equal(t, int32(fd), op.SpliceFdIn)
			require.Equal(t, int32(idx), op.Fd)
			require.Equal(t, uint64(off), op.AddrVal)
			require.Equal(t, uint32(n), op.Len)
		}
	})
}
