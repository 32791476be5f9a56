// uring.h: the C side of the binding. Every helper here does a whole batch per
// call, so that a Go caller pays one cgo crossing for many operations.
#ifndef GOAIO_URING_H
#define GOAIO_URING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <liburing.h>

// The Go side writes SQEs in this exact layout (uring.go's sqe type).
_Static_assert(sizeof(struct io_uring_sqe) == 64, "sqe size");
_Static_assert(offsetof(struct io_uring_sqe, off) == 8, "sqe.off");
_Static_assert(offsetof(struct io_uring_sqe, addr) == 16, "sqe.addr");
_Static_assert(offsetof(struct io_uring_sqe, len) == 24, "sqe.len");
_Static_assert(offsetof(struct io_uring_sqe, rw_flags) == 28, "sqe.rw_flags");
_Static_assert(offsetof(struct io_uring_sqe, user_data) == 32, "sqe.user_data");
_Static_assert(offsetof(struct io_uring_sqe, buf_index) == 40, "sqe.buf_index");
_Static_assert(offsetof(struct io_uring_sqe, personality) == 42, "sqe.personality");
_Static_assert(offsetof(struct io_uring_sqe, splice_fd_in) == 44, "sqe.splice_fd_in");
_Static_assert(offsetof(struct io_uring_sqe, addr3) == 48, "sqe.addr3");

// A reaped completion, copied out of the CQ so the slot can be reused at once.
typedef struct {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
} uring_cqe_t;

typedef struct {
	struct io_uring ring;
	uint64_t submits;       // io_uring_submit calls
	uint64_t enters;        // io_uring_enter system calls: submits, waits and flushes
	uint64_t taskrun;       // enters made only because IORING_SQ_TASKRUN was set
	uint64_t sq_full_waits; // times the SQ had no room (SQPOLL)
	uint64_t cq_overflows;  // times the kernel flagged a CQ overflow
	unsigned reaped;        // completions the last uring_submit reaped
	unsigned withdrawn;     // SQEs the last failed uring_submit took back out of the SQ
	int evfd;               // an eventfd is registered: silence it while reaping inline
#ifdef URING_FAULTS
	int fault_errno;        // the next fault_times enters fail with -fault_errno
	unsigned fault_times;
	unsigned fault_short;   // the next fault_short_times enters consume fault_short fewer SQEs
	unsigned fault_short_times;
	unsigned fault_silent;  // the next fault_silent quiet enters leave the eventfd silenced
#endif
} uring_t;

#ifdef URING_FAULTS
#include "uring_faults.h"
#else
// Without the uring_faults build tag the seam is empty and compiles away.
static inline int uring_setup_masked(unsigned flags) { return 0; }
static inline int uring_opcode_masked(unsigned op) { return 0; }
static inline int uring_sqe_masked(const struct io_uring_sqe *sqe) { return 0; }
static inline int uring_since_masked(unsigned version) { return 0; }
static inline void uring_set_kernel_mask(unsigned version) {}
static inline void uring_set_setup_fault(int err, unsigned times) {}
static inline int uring_setup_fault(void) { return 0; }
static inline void uring_set_register_fault(int err, unsigned skip, unsigned times) {}
static inline int uring_register_fault(void) { return 0; }
static inline void uring_set_enter_fault(uring_t *u, int err, unsigned times, unsigned short_by, unsigned short_times) {}
static inline int uring_enter_fault(uring_t *u, int *ret) { return 0; }
static inline void uring_set_silent_fault(uring_t *u, unsigned times) {}
static inline int uring_silent_fault(uring_t *u) { return 0; }
#endif

static inline int uring_init(uring_t *u, unsigned entries, unsigned cq_entries, unsigned flags,
			     unsigned sq_idle_ms, int sq_cpu, int wq_fd, unsigned *features) {
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	memset(u, 0, sizeof *u);
	p.flags = flags;
	if (cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
	}
	if (flags & IORING_SETUP_SQPOLL) {
		p.sq_thread_idle = sq_idle_ms;
		if (sq_cpu >= 0) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = (unsigned)sq_cpu;
		}
	}
	if (wq_fd >= 0) {
		p.flags |= IORING_SETUP_ATTACH_WQ;
		p.wq_fd = (unsigned)wq_fd;
	}
	int ret = uring_setup_fault();
	if (ret == 0 && uring_setup_masked(p.flags))
		ret = -EINVAL; // an older kernel refuses a setup flag it does not know
	if (ret == 0)
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
	*features = p.features;
	return ret;
}

// uring_reap copies up to max completions into out and frees their CQ entries.
// The caller holds the Go-side CQ lock: one reaper at a time.
static inline unsigned uring_reap(uring_t *u, uring_cqe_t *out, unsigned max) {
	struct io_uring *ring = &u->ring;
	unsigned n = 0;
	int taskrun = 0;
	for (;;) {
		unsigned head, got = 0;
		struct io_uring_cqe *cqe;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (n == max)
				break;
			out[n].user_data = cqe->user_data;
			out[n].res = cqe->res;
			out[n].flags = cqe->flags;
			n++;
			got++;
		}
		io_uring_cq_advance(ring, got);
		// With IORING_SETUP_TASKRUN_FLAG the kernel says when task work of
		// ours waits to post completions: run it, once per call.
		if (n == 0 && !taskrun && (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN)) {
			taskrun = 1;
			u->taskrun++;
			u->enters++;
			io_uring_get_events(ring);
			continue;
		}
		// Completions that did not fit wait in the kernel's overflow list
		// (IORING_FEAT_NODROP): flush them into the CQ we just emptied.
		if (n < max && (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_CQ_OVERFLOW)) {
			u->cq_overflows++;
			u->enters++;
			io_uring_get_events(ring);
			if (io_uring_cq_ready(ring))
				continue;
		}
		return n;
	}
}

// uring_reap_addr is uring_reap for Go: its pointers as integers, so cgo has
// none to check.
static inline unsigned uring_reap_addr(uintptr_t u, uintptr_t out, unsigned max) {
	return uring_reap((uring_t *)u, (uring_cqe_t *)out, max);
}

// uring_sq_pending is the number of SQEs in the SQ the kernel has not consumed.
static inline unsigned uring_sq_pending(struct io_uring *ring) {
	return *ring->sq.ktail - IO_URING_READ_ONCE(*ring->sq.khead);
}

// uring_submit copies n staged SQEs into the SQ and submits them with
// io_uring_enter, again while the kernel consumed only part of them. When out
// is non-NULL the caller also holds the CQ lock, and the completions that are
// ready right after (the ones the kernel finished inline) are reaped into out
// in the same crossing. Returns n, or -errno when the enter failed for good.
//
// A failed submission must not leave SQEs behind: their callers are told
// the op failed and take their memory back, and a later enter would run them.
// Without SQPOLL the kernel reads SQEs only inside io_uring_enter, so the
// unconsumed ones (the batch's tail) are withdrawn by moving the SQ tail back
// to the kernel's head; u->withdrawn says how many. With SQPOLL the kernel
// thread may take them at any moment, so they stay and complete as usual.
//
// u, staged and out are C memory, passed as integers so that cgo has no
// pointer to check on this hot call.
static inline int uring_submit(uintptr_t u_addr, uintptr_t staged_addr, unsigned n, uintptr_t out_addr, unsigned max) {
	uring_t *u = (uring_t *)u_addr;
	const struct io_uring_sqe *staged = (const struct io_uring_sqe *)staged_addr;
	uring_cqe_t *out = (uring_cqe_t *)out_addr;
	struct io_uring *ring = &u->ring;
	int sqpoll = (ring->flags & IORING_SETUP_SQPOLL) != 0;
	unsigned copied = 0, got = 0, *reaped = &got;
	int ret = 0;
	u->withdrawn = 0;
	while (copied < n) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		if (!sqe) {
			// Only with SQPOLL can the SQ be full here: let the poller catch up.
			u->sq_full_waits++;
			io_uring_submit(ring);
			io_uring_sqring_wait(ring);
			continue;
		}
		memcpy(sqe, &staged[copied], sizeof *sqe);
		if (uring_sqe_masked(sqe))
			sqe->opcode = 0xff; // the kernel answers EINVAL for an op it does not know
		copied++;
	}
	// The submitter reaps what completes inline itself: the eventfd would
	// only wake the completer for nothing, and the kernel would pay for that
	// wake-up inside this enter. It is silenced for the enter and the CQ
	// read again after it is back on.
	int quiet = out && u->evfd;
	if (quiet)
		io_uring_cq_eventfd_toggle(ring, false);
	for (;;) {
		u->submits++;
		u->enters++;
		if (!uring_enter_fault(u, &ret))
			ret = io_uring_submit(ring);
		if (ret > 0 && !sqpoll && uring_sq_pending(ring) > 0)
			continue; // the kernel stopped early: submit the rest
		if (ret >= 0 || (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY))
			break;
		if (out) // make room in the CQ before trying again
			*reaped += uring_reap(u, out + *reaped, max - *reaped);
	}
	if (ret < 0 && sqpoll && ret != -EOWNERDEAD)
		ret = (int)n; // the SQ thread still owns the SQEs: their CQEs will come
	// EOWNERDEAD: the SQ thread is gone and nothing will read the SQEs.
	if (ret < 0) {
		unsigned head = IO_URING_READ_ONCE(*ring->sq.khead);
		unsigned left = ring->sq.sqe_tail - head;
		ring->sq.sqe_tail = ring->sq.sqe_head = head;
		IO_URING_WRITE_ONCE(*ring->sq.ktail, head);
		u->withdrawn = left < n ? left : n;
	}
	if (quiet && !uring_silent_fault(u)) {
		io_uring_cq_eventfd_toggle(ring, true);
		__atomic_thread_fence(__ATOMIC_SEQ_CST); // the flag is out before the CQ tail is read
	}
	if (out)
		*reaped += uring_reap(u, out + *reaped, max - *reaped);
	u->reaped = got;
	return ret < 0 ? ret : (int)n;
}

// uring_wait blocks until at least one completion is ready, without consuming
// it: the caller reaps under the CQ lock afterwards.
static inline int uring_wait(uring_t *u) {
	struct io_uring_cqe *cqe;
	int ret;
	if (io_uring_cq_ready(&u->ring))
		return 0;
	do {
		u->enters++;
		ret = io_uring_wait_cqe(&u->ring, &cqe);
	} while (ret == -EINTR || ret == -EAGAIN);
	return ret;
}

// uring_probe fills ops[i] with 1 for each supported opcode below n.
static inline int uring_probe(uring_t *u, unsigned char *ops, int n) {
	struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);
	if (!p)
		return -ENOMEM;
	int last = 0;
	for (int i = 0; i < n; i++) {
		ops[i] = (unsigned char)(io_uring_opcode_supported(p, i) && !uring_opcode_masked(i));
		if (ops[i] && i <= p->last_op)
			last = i;
	}
	io_uring_free_probe(p);
	return last;
}

// uring_register_files_sparse registers an empty file table
// (IORING_RSRC_REGISTER_SPARSE, Linux 5.19).
static inline int uring_register_files_sparse(uring_t *u, unsigned n) {
	if (uring_since_masked(0x0513))
		return -EINVAL;
	int fault = uring_register_fault();
	return fault ? fault : io_uring_register_files_sparse(&u->ring, n);
}

static inline int uring_register_files(uring_t *u, const int *fds, unsigned n) {
	int fault = uring_register_fault();
	return fault ? fault : io_uring_register_files(&u->ring, fds, n);
}

// uring_register_eventfd makes the kernel signal fd for each completion
// (IORING_REGISTER_EVENTFD) except while a submitter reaps inline.
static inline int uring_register_eventfd(uring_t *u, int fd) {
	int ret = io_uring_register_eventfd(&u->ring, fd);
	if (ret == 0)
		u->evfd = 1;
	return ret;
}

static inline int uring_fd(uring_t *u) { return u->ring.ring_fd; }
static inline unsigned uring_sq_entries(uring_t *u) { return u->ring.sq.ring_entries; }
static inline unsigned uring_cq_entries(uring_t *u) { return u->ring.cq.ring_entries; }
static inline unsigned uring_koverflow(uring_t *u) { return IO_URING_READ_ONCE(*u->ring.cq.koverflow); }

// uring_register_buffers registers n buffers given as (address, length) pairs.
static inline int uring_register_buffers(uring_t *u, const uint64_t *pairs, unsigned n) {
	int fault = uring_register_fault();
	if (fault)
		return fault;
	struct iovec *iov = calloc(n ? n : 1, sizeof *iov);
	if (!iov)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = (void *)(uintptr_t)pairs[2 * i];
		iov[i].iov_len = (size_t)pairs[2 * i + 1];
	}
	int ret = io_uring_register_buffers(&u->ring, iov, n);
	free(iov);
	return ret;
}

// uring_unregister_buffers and uring_unregister_files drop a registration.
// Some kernels (Linux 6.1's io_rsrc_ref_quiesce) first wait for the
// references in-flight requests hold, interruptibly: a signal (the Go
// runtime sends them to its threads) ends the wait with -EINTR, and nothing
// was dropped. They try again then, so that undoing a registration does not
// fail at random.
static inline int uring_unregister_buffers(uring_t *u) {
	int ret;
	do
		ret = io_uring_unregister_buffers(&u->ring);
	while (ret == -EINTR);
	return ret;
}

static inline int uring_unregister_files(uring_t *u) {
	int ret;
	do
		ret = io_uring_unregister_files(&u->ring);
	while (ret == -EINTR);
	return ret;
}

// A provided-buffer ring and the memory of its buffers, both in C memory: the
// kernel writes received data there at any time while the group is registered.
typedef struct {
	struct io_uring_buf_ring *br;
	unsigned char *mem;
	unsigned entries, size, mask;
	int group;
} uring_bufring_t;

// flags are io_uring_buf_reg's (the field liburing 2.3 calls pad):
// IOU_PBUF_RING_INC (2, Linux 6.12) has the kernel consume a buffer a
// completion at a time, so small messages share one.
static inline int uring_bufring_setup(uring_t *u, uring_bufring_t *b, unsigned entries, unsigned size, int group,
				      unsigned flags) {
	void *ringmem = NULL, *mem = NULL;
	if (uring_since_masked(0x0513)) // IORING_REGISTER_PBUF_RING: Linux 5.19
		return -EINVAL;
	int fault = uring_register_fault();
	if (fault)
		return fault;
	if (posix_memalign(&ringmem, 4096, entries * sizeof(struct io_uring_buf)))
		return -ENOMEM;
	if (posix_memalign(&mem, 4096, (size_t)entries * size)) {
		free(ringmem);
		return -ENOMEM;
	}
	memset(ringmem, 0, entries * sizeof(struct io_uring_buf));
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof reg);
	reg.ring_addr = (uint64_t)(uintptr_t)ringmem;
	reg.ring_entries = entries;
	reg.bgid = (uint16_t)group;
	reg.pad = (uint16_t)flags;
	int ret = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (ret) {
		free(ringmem);
		free(mem);
		return ret;
	}
	b->br = ringmem;
	b->mem = mem;
	b->entries = entries;
	b->size = size;
	b->mask = io_uring_buf_ring_mask(entries);
	b->group = group;
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < entries; i++)
		io_uring_buf_ring_add(b->br, b->mem + (size_t)i * size, size, (unsigned short)i, b->mask, (int)i);
	io_uring_buf_ring_advance(b->br, (int)entries);
	return 0;
}

// uring_bufring_free unregisters the group (u may be NULL once the ring is
// gone, which took the registration with it) and frees its memory.
static inline void uring_bufring_free(uring_t *u, uring_bufring_t *b) {
	if (!b->br)
		return;
	if (u)
		io_uring_unregister_buf_ring(&u->ring, b->group);
	free(b->br);
	free(b->mem);
	b->br = NULL;
	b->mem = NULL;
}

// The addresses a single owner needs to run a ring from Go without cgo:
// it fills SQEs and reads CQEs in the mapped rings, and enters with a
// plain system call (local.go).
typedef struct {
	void *sqes, *cqes;
	unsigned *sq_khead, *sq_ktail, *cq_khead, *cq_ktail;
	unsigned sq_mask, sq_entries, cq_mask, cq_entries;
	int enter_fd;
	unsigned enter_flags;
} uring_local_view_t;

// uring_local_init sets up a ring for one thread, the one calling it:
// SINGLE_ISSUER and DEFER_TASKRUN (completions are posted only when that
// thread enters to wait), SUBMIT_ALL, and its fd registered so that an
// enter skips the file table. The SQ array, where there is one, maps slot i
// to SQE i once, so that the owner only moves the tail.
static inline int uring_local_init(uring_t *u, unsigned entries, unsigned cq_entries, uring_local_view_t *v, unsigned *features) {
	unsigned flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	int ret = uring_init(u, entries, cq_entries, flags, 0, -1, -1, features);
	if (ret < 0)
		return ret;
	struct io_uring *r = &u->ring;
	// liburing 2.6 and later set up without an SQ array where the kernel
	// allows (IORING_SETUP_NO_SQARRAY): slot i is SQE i already.
	if (r->sq.array)
		for (unsigned i = 0; i < r->sq.ring_entries; i++)
			r->sq.array[i] = i;
	v->sqes = r->sq.sqes;
	v->sq_khead = r->sq.khead;
	v->sq_ktail = r->sq.ktail;
	v->sq_mask = r->sq.ring_mask;
	v->sq_entries = r->sq.ring_entries;
	v->cqes = r->cq.cqes;
	v->cq_khead = r->cq.khead;
	v->cq_ktail = r->cq.ktail;
	v->cq_mask = r->cq.ring_mask;
	v->cq_entries = r->cq.ring_entries;
	v->enter_fd = r->ring_fd;
	v->enter_flags = 0;
	if (io_uring_register_ring_fd(r) == 1) {
		v->enter_fd = r->enter_ring_fd;
		v->enter_flags = IORING_ENTER_REGISTERED_RING;
	}
	return 0;
}

#endif
