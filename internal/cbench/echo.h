// echo.h: the C side of the TCP echo comparisons (issue 26): a light client
// that drives any server, and two C servers to measure Go servers against:
// an epoll loop and an io_uring loop of the design the loop package takes
// (one thread owning its ring with SINGLE_ISSUER and DEFER_TASKRUN, a
// multishot accept, a multishot recv into a provided-buffer ring, the echo
// sent from the received buffer, one io_uring_enter per iteration).
#ifndef GOAIO_CBENCH_ECHO_H
#define GOAIO_CBENCH_ECHO_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <liburing.h>

#include "cbench.h"

#define CBENCH_ECHO_MAX_CONNS 65536

// cbench_echo_client connects conns sockets to the IPv4 address ip:port
// (network byte order) and has each do msg-byte ping-pong for dur_ns from
// one thread with epoll: write msg bytes, read them all back, repeat. It
// checks that every byte comes back. ops counts round trips.
static inline cbench_result cbench_echo_client(uint32_t ip, uint16_t port, int conns, int msg, int64_t dur_ns) {
	cbench_result r;
	memset(&r, 0, sizeof r);
	if (conns <= 0 || conns > CBENCH_ECHO_MAX_CONNS || msg <= 0 || msg > 4096) {
		r.err = EINVAL;
		return r;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int *fds = calloc(conns, sizeof(int));
	int *got = calloc(conns, sizeof(int));
	char *out = malloc(msg), *in = malloc(4096);
	struct epoll_event *evs = calloc(1024, sizeof *evs);
	if (ep < 0 || !fds || !got || !out || !in || !evs) {
		r.err = ep < 0 ? errno : ENOMEM;
		goto done;
	}
	for (int i = 0; i < msg; i++)
		out[i] = (char)('a' + i % 26);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = ip;
	sa.sin_port = port;
	for (int i = 0; i < conns; i++)
		fds[i] = -1;
	for (int i = 0; i < conns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			r.err = errno;
			if (fd >= 0)
				close(fd);
			goto done;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fcntl(fd, F_SETFL, O_NONBLOCK);
		fds[i] = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			r.err = errno;
			goto done;
		}
	}
	int64_t start = cbench_now(), end = start + dur_ns;
	for (int i = 0; i < conns; i++) {
		if (write(fds[i], out, msg) != msg) {
			r.err = errno ? errno : EIO;
			goto done;
		}
	}
	while (cbench_now() < end) {
		int n = epoll_wait(ep, evs, 1024, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r.err = errno;
			goto done;
		}
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			ssize_t m = read(fds[i], in, msg - got[i]);
			if (m < 0 && errno == EAGAIN)
				continue;
			if (m <= 0) {
				r.err = m == 0 ? ECONNRESET : errno;
				goto done;
			}
			if (memcmp(in, out + got[i], m) != 0) {
				r.err = EBADMSG;
				goto done;
			}
			got[i] += (int)m;
			if (got[i] < msg)
				continue;
			got[i] = 0;
			r.ops++;
			if (write(fds[i], out, msg) != msg) {
				r.err = errno ? errno : EIO;
				goto done;
			}
		}
	}
	r.ns = cbench_now() - start;
done:
	if (fds)
		for (int i = 0; i < conns; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	if (ep >= 0)
		close(ep);
	free(fds);
	free(got);
	free(out);
	free(in);
	free(evs);
	return r;
}

// cbench_echo_epoll_server serves listen_fd (non-blocking) from one thread
// with epoll, echoing what each connection sends, until a read of stop_fd
// (an eventfd or pipe) is ready. It returns 0, or an errno.
static inline int cbench_echo_epoll_server(int listen_fd, int stop_fd) {
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = listen_fd};
	epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.fd = stop_fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev);
	struct epoll_event evs[256];
	char buf[4096];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(ep);
			return errno;
		}
		for (int k = 0; k < n; k++) {
			int fd = evs[k].data.fd;
			if (fd == stop_fd) {
				close(ep);
				return 0;
			}
			if (fd == listen_fd) {
				for (;;) {
					int c = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break;
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			ssize_t m = read(fd, buf, sizeof buf);
			if (m < 0 && errno == EAGAIN)
				continue;
			if (m <= 0 || write(fd, buf, m) != m) // a full send buffer drops the conn: the client waits for its echo
				close(fd);
		}
	}
}

// The io_uring server's requests, by the user_data's top byte; the rest is
// the connection's descriptor, and for a send the buffer's id.
enum { ECHO_ACCEPT = 1, ECHO_RECV, ECHO_SEND, ECHO_STOP };
#define ECHO_UD(kind, fd, bid) (((uint64_t)(kind) << 56) | ((uint64_t)(uint16_t)(bid) << 32) | (uint32_t)(fd))
#define ECHO_BUFS 4096
#define ECHO_BUF_SIZE 2048
#define ECHO_GROUP 7

static inline struct io_uring_sqe *echo_sqe(struct io_uring *ring) {
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static inline void echo_recv(struct io_uring *ring, int fd) {
	struct io_uring_sqe *sqe = echo_sqe(ring);
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = ECHO_GROUP;
	io_uring_sqe_set_data64(sqe, ECHO_UD(ECHO_RECV, fd, 0));
}

// cbench_echo_uring_server serves listen_fd from one thread that owns an
// io_uring (SINGLE_ISSUER, DEFER_TASKRUN): a multishot accept, a multishot
// recv per connection into a ring of ECHO_BUFS provided buffers, each echo
// sent from the buffer it arrived in and the buffer recycled when the send
// completes, one io_uring_submit_and_wait per iteration, until stop_fd is
// readable. It returns 0, or an errno.
static inline int cbench_echo_uring_server(int listen_fd, int stop_fd) {
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = 16384;
	p.flags |= IORING_SETUP_CQSIZE;
	int ret = io_uring_queue_init_params(4096, &ring, &p);
	if (ret < 0)
		return -ret;
	size_t brsize = ECHO_BUFS * sizeof(struct io_uring_buf);
	struct io_uring_buf_ring *br = mmap(NULL, brsize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	char *bufs = malloc((size_t)ECHO_BUFS * ECHO_BUF_SIZE);
	if (br == MAP_FAILED || !bufs) {
		io_uring_queue_exit(&ring);
		return ENOMEM;
	}
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = ECHO_BUFS, .bgid = ECHO_GROUP};
	ret = io_uring_register_buf_ring(&ring, &reg, 0);
	if (ret < 0) {
		io_uring_queue_exit(&ring);
		return -ret;
	}
	io_uring_buf_ring_init(br);
	int mask = io_uring_buf_ring_mask(ECHO_BUFS);
	for (int i = 0; i < ECHO_BUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * ECHO_BUF_SIZE, ECHO_BUF_SIZE, i, mask, i);
	io_uring_buf_ring_advance(br, ECHO_BUFS);

	struct io_uring_sqe *sqe = echo_sqe(&ring);
	io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ECHO_UD(ECHO_ACCEPT, listen_fd, 0));
	uint64_t stopbuf;
	sqe = echo_sqe(&ring);
	io_uring_prep_read(sqe, stop_fd, &stopbuf, sizeof stopbuf, 0);
	io_uring_sqe_set_data64(sqe, ECHO_UD(ECHO_STOP, stop_fd, 0));

	int err = 0, stop = 0;
	while (!stop) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EBUSY) {
			err = -ret;
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0, recycled = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			uint64_t ud = cqe->user_data;
			int kind = (int)(ud >> 56), fd = (int)(uint32_t)ud;
			int res = cqe->res;
			switch (kind) {
			case ECHO_ACCEPT:
				if (res >= 0) {
					int one = 1;
					setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					echo_recv(&ring, res);
				}
				if (!(cqe->flags & IORING_CQE_F_MORE)) { // re-arm
					sqe = echo_sqe(&ring);
					io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
					io_uring_sqe_set_data64(sqe, ECHO_UD(ECHO_ACCEPT, listen_fd, 0));
				}
				break;
			case ECHO_RECV:
				if (res > 0) {
					int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
					sqe = echo_sqe(&ring);
					io_uring_prep_send(sqe, fd, bufs + (size_t)bid * ECHO_BUF_SIZE, res, MSG_NOSIGNAL);
					io_uring_sqe_set_data64(sqe, ECHO_UD(ECHO_SEND, fd, bid));
					if (!(cqe->flags & IORING_CQE_F_MORE))
						echo_recv(&ring, fd);
				} else if (res == -ENOBUFS) {
					echo_recv(&ring, fd); // buffers come back as sends complete
				} else if (!(cqe->flags & IORING_CQE_F_MORE)) {
					close(fd); // EOF or an error
				}
				break;
			case ECHO_SEND: {
				int bid = (int)((ud >> 32) & 0xffff);
				io_uring_buf_ring_add(br, bufs + (size_t)bid * ECHO_BUF_SIZE, ECHO_BUF_SIZE, bid, mask, recycled++);
				break;
			}
			case ECHO_STOP:
				stop = 1;
				break;
			}
		}
		if (recycled)
			io_uring_buf_ring_advance(br, recycled);
		io_uring_cq_advance(&ring, n);
	}
	io_uring_queue_exit(&ring);
	munmap(br, brsize);
	free(bufs);
	return err;
}

#endif
