// cbench.h: plain C liburing loops, the baselines the Go benchmarks compare
// against. Each loop runs for a wall time, times itself with clock_gettime in
// C, and returns the count of completed operations and the nanoseconds they
// took, so a Go caller pays one cgo crossing per measurement.
#ifndef GOAIO_CBENCH_H
#define GOAIO_CBENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <liburing.h>

// The largest batch or queue depth a loop accepts.
#define CBENCH_MAX_DEPTH 4096

// One loop's outcome: ops completed in ns nanoseconds, or err (a positive
// errno) if the loop could not run or an operation failed.
typedef struct {
	uint64_t ops;
	int64_t ns;
	int err;
} cbench_result;

// cbench_now returns CLOCK_MONOTONIC in nanoseconds.
static inline int64_t cbench_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// cbench_rand is xorshift64*: cheap, and good enough to spread offsets.
static inline uint64_t cbench_rand(uint64_t *s) {
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

// cbench_nop measures NOP round trips at batch size batch: it preps batch
// NOPs, submits them and waits for all with one io_uring_submit_and_wait,
// reaps the batch, and repeats until dur_ns has passed. The ring has batch SQ
// entries and default flags.
static inline cbench_result cbench_nop(unsigned batch, int64_t dur_ns) {
	cbench_result r;
	struct io_uring ring;
	struct io_uring_cqe *cqes[CBENCH_MAX_DEPTH];
	memset(&r, 0, sizeof r);
	if (batch == 0 || batch > CBENCH_MAX_DEPTH) {
		r.err = EINVAL;
		return r;
	}
	int ret = io_uring_queue_init(batch, &ring, 0);
	if (ret < 0) {
		r.err = -ret;
		return r;
	}
	int64_t start = cbench_now(), end = start + dur_ns, now;
	do {
		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_nop(sqe);
			sqe->user_data = i;
		}
		ret = io_uring_submit_and_wait(&ring, batch);
		if (ret < 0) {
			r.err = -ret;
			break;
		}
		unsigned got = 0;
		while (got < batch) {
			unsigned n = io_uring_peek_batch_cqe(&ring, cqes, batch - got);
			if (n == 0) {
				struct io_uring_cqe *c;
				ret = io_uring_wait_cqe(&ring, &c);
				if (ret < 0) {
					r.err = -ret;
					goto out;
				}
				continue;
			}
			for (unsigned i = 0; i < n; i++) {
				if (cqes[i]->res < 0 && r.err == 0)
					r.err = -cqes[i]->res;
			}
			io_uring_cq_advance(&ring, n);
			got += n;
		}
		r.ops += batch;
		now = cbench_now();
	} while (now < end && r.err == 0);
out:
	r.ns = cbench_now() - start;
	io_uring_queue_exit(&ring);
	return r;
}

// cbench_read measures random block-sized reads of fd, whose first size bytes
// are read at offsets that are multiples of bs. It keeps qd reads in flight:
// it fills the queue, then for every completion it reaps it preps a new read
// into the same buffer, submitting each reaped batch's replacements and
// waiting for the next completion in one io_uring_submit_and_wait. After
// dur_ns it stops refilling and drains, so the kernel is done with the
// buffers before they are freed. Buffers come from posix_memalign(4096), so
// fd may be opened with O_DIRECT. seed picks the offset sequence.
static inline cbench_result cbench_read(int fd, int64_t size, unsigned qd, unsigned bs, int64_t dur_ns,
					uint64_t seed) {
	cbench_result r;
	struct io_uring ring;
	struct io_uring_cqe *cqes[CBENCH_MAX_DEPTH];
	void *mem = NULL;
	memset(&r, 0, sizeof r);
	if (qd == 0 || qd > CBENCH_MAX_DEPTH || bs == 0 || size < (int64_t)bs) {
		r.err = EINVAL;
		return r;
	}
	uint64_t blocks = (uint64_t)size / bs, rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
	if (posix_memalign(&mem, 4096, (size_t)qd * bs) != 0) {
		r.err = ENOMEM;
		return r;
	}
	int ret = io_uring_queue_init(qd, &ring, 0);
	if (ret < 0) {
		free(mem);
		r.err = -ret;
		return r;
	}
	int64_t start = cbench_now(), end = start + dur_ns;
	unsigned inflight = 0;
	int refill = 1;
	for (unsigned i = 0; i < qd; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		uint64_t off = (cbench_rand(&rng) % blocks) * bs;
		io_uring_prep_read(sqe, fd, (char *)mem + (size_t)i * bs, bs, off);
		sqe->user_data = i;
		inflight++;
	}
	while (inflight > 0) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			r.err = -ret;
			break; // nothing more can be submitted or reaped
		}
		unsigned n = io_uring_peek_batch_cqe(&ring, cqes, qd);
		for (unsigned i = 0; i < n; i++) {
			struct io_uring_cqe *c = cqes[i];
			unsigned idx = (unsigned)c->user_data;
			inflight--;
			if (c->res != (int)bs) {
				if (r.err == 0)
					r.err = c->res < 0 ? -c->res : EIO;
				refill = 0;
				continue;
			}
			r.ops++;
			if (refill) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
				uint64_t off = (cbench_rand(&rng) % blocks) * bs;
				io_uring_prep_read(sqe, fd, (char *)mem + (size_t)idx * bs, bs, off);
				sqe->user_data = idx;
				inflight++;
			}
		}
		io_uring_cq_advance(&ring, n);
		if (refill && cbench_now() >= end)
			refill = 0;
	}
	r.ns = cbench_now() - start;
	io_uring_queue_exit(&ring);
	if (r.err == 0 || inflight == 0)
		free(mem);
	// else: a read may still be in flight after a ring error; leak the
	// buffers rather than let the kernel write into freed memory.
	return r;
}

#endif
