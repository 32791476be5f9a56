// uring_faults.h: the fault seam, compiled in only with the uring_faults
// build tag (-DURING_FAULTS). Tests use it to make the kernel boundary fail
// on purpose: io_uring_setup and io_uring_enter return chosen errors, an
// enter consumes fewer SQEs than asked, and a kernel mask answers EINVAL to
// every setup flag, opcode and request flag newer than a chosen version,
// exactly as that older kernel would.
#ifndef GOAIO_URING_FAULTS_H
#define GOAIO_URING_FAULTS_H

// Versions are major<<8 | minor; 0 means no mask.
static unsigned uring_fault_kernel;
static int uring_fault_setup_errno;
static unsigned uring_fault_setup_times;

static inline void uring_set_kernel_mask(unsigned version) { uring_fault_kernel = version; }

static inline int uring_since_masked(unsigned version) {
	return uring_fault_kernel != 0 && version > uring_fault_kernel;
}

// uring_setup_masked reports a setup flag newer than the mask.
static inline int uring_setup_masked(unsigned flags) {
	static const struct { unsigned flag, since; } table[] = {
		{IORING_SETUP_CQSIZE, 0x0505},        {IORING_SETUP_CLAMP, 0x0506},
		{IORING_SETUP_ATTACH_WQ, 0x0506},     {IORING_SETUP_R_DISABLED, 0x050a},
		{IORING_SETUP_SUBMIT_ALL, 0x0512},    {IORING_SETUP_COOP_TASKRUN, 0x0513},
		{IORING_SETUP_TASKRUN_FLAG, 0x0513},  {IORING_SETUP_SQE128, 0x0513},
		{IORING_SETUP_CQE32, 0x0513},         {IORING_SETUP_SINGLE_ISSUER, 0x0600},
		{IORING_SETUP_DEFER_TASKRUN, 0x0601},
	};
	for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
		if ((flags & table[i].flag) && uring_since_masked(table[i].since))
			return 1;
	return 0;
}

// uring_opcode_since is the first Linux release with opcode op.
static inline unsigned uring_opcode_since(unsigned op) {
	if (op <= 7) return 0x0501;   // NOP .. POLL_REMOVE
	if (op == 8) return 0x0502;   // SYNC_FILE_RANGE
	if (op <= 10) return 0x0503;  // SENDMSG, RECVMSG
	if (op == 11) return 0x0504;  // TIMEOUT
	if (op <= 16) return 0x0505;  // TIMEOUT_REMOVE .. CONNECT
	if (op <= 29) return 0x0506;  // FALLOCATE .. EPOLL_CTL
	if (op <= 32) return 0x0507;  // SPLICE, PROVIDE/REMOVE_BUFFERS
	if (op == 33) return 0x0508;  // TEE
	if (op <= 36) return 0x050b;  // SHUTDOWN, RENAMEAT, UNLINKAT
	if (op <= 39) return 0x050f;  // MKDIRAT, SYMLINKAT, LINKAT
	if (op == 40) return 0x0512;  // MSG_RING
	if (op <= 46) return 0x0513;  // xattrs, SOCKET, URING_CMD
	if (op == 47) return 0x0600;  // SEND_ZC
	if (op == 48) return 0x0601;  // SENDMSG_ZC
	if (op <= 53) return 0x0607;  // READ_MULTISHOT, WAITID, futexes
	if (op == 54) return 0x0608;  // FIXED_FD_INSTALL
	if (op == 55) return 0x0609;  // FTRUNCATE
	return 0x060b;                // BIND, LISTEN and later
}

static inline int uring_opcode_masked(unsigned op) { return uring_since_masked(uring_opcode_since(op)); }

// uring_sqe_masked reports an SQE an older kernel would fail with EINVAL:
// a newer opcode, or a newer flag of an older one.
static inline int uring_sqe_masked(const struct io_uring_sqe *sqe) {
	if (uring_fault_kernel == 0)
		return 0;
	if (uring_opcode_masked(sqe->opcode))
		return 1;
	switch (sqe->opcode) {
	case IORING_OP_ASYNC_CANCEL:
		if ((sqe->cancel_flags & IORING_ASYNC_CANCEL_FD_FIXED) && uring_since_masked(0x0600))
			return 1;
		return (sqe->cancel_flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ANY)) &&
		       uring_since_masked(0x0513);
	case IORING_OP_ACCEPT:
		return (sqe->ioprio & IORING_ACCEPT_MULTISHOT) && uring_since_masked(0x0513);
	case IORING_OP_RECV:
	case IORING_OP_RECVMSG:
	case IORING_OP_SEND:
	case IORING_OP_SENDMSG:
		if ((sqe->ioprio & IORING_RECV_MULTISHOT) && uring_since_masked(0x0600))
			return 1;
		return (sqe->ioprio & IORING_RECVSEND_POLL_FIRST) && uring_since_masked(0x0513);
	}
	return 0;
}

static int uring_fault_register_errno;
static unsigned uring_fault_register_skip, uring_fault_register_times;

// uring_set_register_fault makes io_uring_register calls fail with err
// times times, after the next skip calls went through.
static inline void uring_set_register_fault(int err, unsigned skip, unsigned times) {
	uring_fault_register_errno = err;
	uring_fault_register_skip = skip;
	uring_fault_register_times = times;
}

// uring_register_fault returns -errno for an io_uring_register told to fail.
static inline int uring_register_fault(void) {
	if (uring_fault_register_times == 0)
		return 0;
	if (uring_fault_register_skip > 0) {
		uring_fault_register_skip--;
		return 0;
	}
	uring_fault_register_times--;
	return -uring_fault_register_errno;
}

static inline void uring_set_setup_fault(int err, unsigned times) {
	uring_fault_setup_errno = err;
	uring_fault_setup_times = times;
}

// uring_setup_fault returns -errno for an io_uring_setup told to fail.
static inline int uring_setup_fault(void) {
	if (uring_fault_setup_times == 0)
		return 0;
	uring_fault_setup_times--;
	return -uring_fault_setup_errno;
}

static inline void uring_set_enter_fault(uring_t *u, int err, unsigned times, unsigned short_by, unsigned short_times) {
	u->fault_errno = err;
	u->fault_times = times;
	u->fault_short = short_by;
	u->fault_short_times = short_times;
}

// uring_set_silent_fault makes the next times quiet enters (a submitter
// reaping inline) leave the eventfd silenced: a completion posted after them
// signals nothing, as when the kernel read IORING_CQ_EVENTFD_DISABLED in the
// instant before the submitter turned it back on. The next quiet enter
// without the fault turns it on again.
static inline void uring_set_silent_fault(uring_t *u, unsigned times) { u->fault_silent = times; }

static inline int uring_silent_fault(uring_t *u) {
	if (u->fault_silent == 0)
		return 0;
	u->fault_silent--;
	return 1;
}

// uring_publish_sq makes the staged SQEs visible to the kernel, as
// io_uring_submit does before it enters, and returns how many it has not
// consumed.
static inline unsigned uring_publish_sq(struct io_uring *ring) {
	struct io_uring_sq *sq = &ring->sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	return *sq->ktail - IO_URING_READ_ONCE(*sq->khead);
}

// uring_enter_fault stands in for io_uring_submit when a fault is due and
// reports whether it did (the result in *ret). A failing enter leaves the
// SQEs in the SQ unconsumed, as the kernel does when it returns an error
// before reading them; with SQPOLL the SQ thread still takes them, so
// there the submission happens and only the error is reported (unless the
// error is EOWNERDEAD: no SQ thread). A short enter consumes fault_short
// fewer SQEs than there are (at least one).
static inline int uring_enter_fault(uring_t *u, int *ret) {
	struct io_uring *ring = &u->ring;
	int sqpoll = (ring->flags & IORING_SETUP_SQPOLL) != 0;
	if (u->fault_times > 0) {
		u->fault_times--;
		if (sqpoll && u->fault_errno != EOWNERDEAD)
			io_uring_submit(ring);
		else
			uring_publish_sq(ring);
		*ret = -u->fault_errno;
		return 1;
	}
	if (u->fault_short_times > 0 && !sqpoll) {
		unsigned pending = uring_publish_sq(ring);
		if (pending < 2)
			return 0;
		u->fault_short_times--;
		unsigned take = pending > u->fault_short ? pending - u->fault_short : 1;
		*ret = io_uring_enter(ring->ring_fd, take, 0, 0, NULL);
		return 1;
	}
	return 0;
}

#endif
