package ops

// Operation codes, in the kernel's numbering (include/uapi/linux/io_uring.h).
// Codes past liburing 2.3's header are listed too: the ring's probe decides at
// run time whether the kernel has them.
const (
	OpNop Opcode = iota
	OpReadv
	OpWritev
	OpFsync
	OpReadFixed
	OpWriteFixed
	OpPollAdd
	OpPollRemove
	OpSyncFileRange
	OpSendMsg
	OpRecvMsg
	OpTimeout
	OpTimeoutRemove
	OpAccept
	OpAsyncCancel
	OpLinkTimeout
	OpConnect
	OpFallocate
	OpOpenat
	OpClose
	OpFilesUpdate
	OpStatx
	OpRead
	OpWrite
	OpFadvise
	OpMadvise
	OpSend
	OpRecv
	OpOpenat2
	OpEpollCtl
	OpSplice
	OpProvideBuffers
	OpRemoveBuffers
	OpTee
	OpShutdown
	OpRenameat
	OpUnlinkat
	OpMkdirat
	OpSymlinkat
	OpLinkat
	OpMsgRing
	OpFsetxattr
	OpSetxattr
	OpFgetxattr
	OpGetxattr
	OpSocket
	OpUringCmd
	OpSendZC
	OpSendMsgZC
	OpReadMultishot
	OpWaitid
	OpFutexWait
	OpFutexWake
	OpFutexWaitv
	OpFixedFdInstall
	OpFtruncate
	OpBind
	OpListen
	OpLast // one past the highest code this package knows
)

var opNames = [...]string{
	"nop", "readv", "writev", "fsync", "read_fixed", "write_fixed", "poll_add", "poll_remove",
	"sync_file_range", "sendmsg", "recvmsg", "timeout", "timeout_remove", "accept", "async_cancel",
	"link_timeout", "connect", "fallocate", "openat", "close", "files_update", "statx", "read", "write",
	"fadvise", "madvise", "send", "recv", "openat2", "epoll_ctl", "splice", "provide_buffers",
	"remove_buffers", "tee", "shutdown", "renameat", "unlinkat", "mkdirat", "symlinkat", "linkat",
	"msg_ring", "fsetxattr", "setxattr", "fgetxattr", "getxattr", "socket", "uring_cmd", "send_zc",
	"sendmsg_zc", "read_multishot", "waitid", "futex_wait", "futex_wake", "futex_waitv",
	"fixed_fd_install", "ftruncate", "bind", "listen",
}

// String returns the operation's name as liburing spells it (without the
// io_uring_prep_ prefix).
func (c Opcode) String() string {
	if int(c) < len(opNames) {
		return opNames[c]
	}
	return "op_" + itoa(int(c))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Per-op flag values (the SQE's ioprio, len and op-flags fields).
const (
	FsyncDatasync uint32 = 1 << 0 // IORING_FSYNC_DATASYNC

	TimeoutAbs          uint32 = 1 << 0 // IORING_TIMEOUT_ABS
	TimeoutUpdate       uint32 = 1 << 1 // IORING_TIMEOUT_UPDATE
	TimeoutBoottime     uint32 = 1 << 2 // IORING_TIMEOUT_BOOTTIME
	TimeoutRealtime     uint32 = 1 << 3 // IORING_TIMEOUT_REALTIME
	LinkTimeoutUpdate   uint32 = 1 << 4 // IORING_LINK_TIMEOUT_UPDATE
	TimeoutETimeSuccess uint32 = 1 << 5 // IORING_TIMEOUT_ETIME_SUCCESS
	TimeoutMultishot    uint32 = 1 << 6 // IORING_TIMEOUT_MULTISHOT (6.4)

	PollAddMulti       uint32 = 1 << 0 // IORING_POLL_ADD_MULTI
	PollUpdateEvents   uint32 = 1 << 1 // IORING_POLL_UPDATE_EVENTS
	PollUpdateUserData uint32 = 1 << 2 // IORING_POLL_UPDATE_USER_DATA
	PollAddLevel       uint32 = 1 << 3 // IORING_POLL_ADD_LEVEL

	CancelAll     uint32 = 1 << 0 // IORING_ASYNC_CANCEL_ALL
	CancelFd      uint32 = 1 << 1 // IORING_ASYNC_CANCEL_FD
	CancelAny     uint32 = 1 << 2 // IORING_ASYNC_CANCEL_ANY
	CancelFdFixed uint32 = 1 << 3 // IORING_ASYNC_CANCEL_FD_FIXED

	RecvSendPollFirst uint16 = 1 << 0 // IORING_RECVSEND_POLL_FIRST
	RecvMultishot     uint16 = 1 << 1 // IORING_RECV_MULTISHOT
	RecvSendFixedBuf  uint16 = 1 << 2 // IORING_RECVSEND_FIXED_BUF
	SendZCReportUsage uint16 = 1 << 3 // IORING_SEND_ZC_REPORT_USAGE

	AcceptMultishot uint16 = 1 << 0 // IORING_ACCEPT_MULTISHOT

	MsgData   = 0 // IORING_MSG_DATA: post a CQE with Len as res and Off as user_data
	MsgSendFd = 1 // IORING_MSG_SEND_FD

	MsgRingCQESkip uint32 = 1 << 0 // IORING_MSG_RING_CQE_SKIP

	SpliceFdInFixed uint32 = 1 << 31 // SPLICE_F_FD_IN_FIXED

	FileIndexAlloc uint32 = ^uint32(0) // IORING_FILE_INDEX_ALLOC
)
