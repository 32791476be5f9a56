package net

import (
	"context"
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// Multishot receive (issue 13, design (a)): one multishot recv per stream
// connection stays armed across Reads and drains the socket into buffers of
// a provided-buffer pool the Ring's shards share; Read copies from the
// buffers queued for its connection and hands them back. A Read that finds
// data makes no system call; a passed deadline wakes the reader in user
// space and leaves the receive armed.
//
// Flow control: the receive is armed with a byte limit (ops.RecvMultiLimit),
// the cap minus what is queued unread, so a connection that never reads
// holds at most recvCap bytes of the pool (plus part of one buffer) and TCP
// pushes back on its sender. Read re-arms once the queue is down to half the
// cap. When the pool runs dry the receive ends with ENOBUFS; the next Read
// then receives straight into its own buffer, as design (b) does, and
// re-arms after.

const (
	recvGroup   = 0xfffe // the pool's buffer group on a Ring: net's own
	recvBufSize = 4 << 10
	recvBufs    = 1024     // per shard: 4 MiB of C memory, touched only as data comes
	recvCap     = 64 << 10 // unread bytes a connection may hold in the pool
)

// recvQueue is a connection's share of the pool: the completions whose
// buffers hold data its reader has not taken yet, and how the receive
// ended. Push runs on the goroutine that reaps, which may be a reader in its
// own arm: mu is never held across a call into the Ring.
type recvQueue struct {
	mu     sync.Mutex
	pool   *uring.BufferRing
	items  []uring.Result // in arrival order; items[0] read up to off
	off    int
	unread int
	armed  bool          // a receive is in the kernel; it holds a reference on the fd
	eof    bool          // the peer closed its side: after the queued data, Read says io.EOF
	errno  syscall.Errno // a receive error, reported once after the queued data
	nobufs bool          // the last receive ended for want of a pool buffer
}

// Push takes the receive's completions (uring.Sink).
func (s *sock) Push(res uring.Result, final bool) {
	q := &s.recv
	q.mu.Lock()
	switch e := syscall.Errno(-res.Res); {
	case res.Res > 0:
		q.items = append(q.items, res)
		q.unread += int(res.Res)
	case res.Res == 0:
		q.eof = true
	case e == syscall.ENOBUFS:
		q.nobufs = true
	case e == syscall.ECANCELED: // Close
	default:
		q.errno = e
	}
	if final {
		q.armed = false
	}
	q.mu.Unlock()
	if final {
		s.Decref()
	}
	s.ready.wake()
}

// armRecv starts the connection's multishot receive unless one runs or
// nothing should: the peer closed, an error waits, the queue is at half the
// cap or more. Only a reader, under the read lock, or the goroutine that
// made the connection calls it.
func (s *sock) armRecv() error {
	q := &s.recv
	q.mu.Lock()
	if q.armed || q.eof || q.errno != 0 || q.unread > recvCap/2 {
		q.mu.Unlock()
		return nil
	}
	if q.pool == nil {
		q.pool = recvPool(s.Ring)
	}
	limit := uint32(recvCap - q.unread)
	if err := s.Incref(); err != nil {
		q.mu.Unlock()
		return err
	}
	q.armed = true // before the submit: its final completion may be pushed inside it
	q.mu.Unlock()
	m, err := s.Ring.Multishot(ops.RecvMultiLimit(s.Sysfd, recvGroup, 0, limit), s)
	if err != nil {
		q.mu.Lock()
		q.armed = false
		q.mu.Unlock()
		s.Decref()
		return s.Err(context.Background(), "read", err)
	}
	if s.Closed() {
		m.Cancel() // Close may have cancelled the socket's requests before this one reached the ring
	}
	return nil
}

// readMulti is Read on a stream socket by multishot receive.
func (fd *netFD) readMulti(b []byte) (int, error) {
	fd.rmu.Lock()
	defer fd.rmu.Unlock()
	if err := fd.Incref(); err != nil {
		return 0, fd.opErr("read", err)
	}
	defer fd.Decref()
	q := &fd.recv
	for {
		if err := fd.RD.Err(); err != nil { // as std: a passed deadline fails even with data waiting
			return 0, fd.opErr("read", err)
		}
		q.mu.Lock()
		if len(q.items) > 0 {
			n := q.take(b)
			rearm := !q.armed && q.unread <= recvCap/2
			q.mu.Unlock()
			if rearm {
				_ = fd.armRecv() // a failure shows at the next Read that waits
			}
			return n, nil
		}
		if e := q.errno; e != 0 {
			q.errno = 0
			q.mu.Unlock()
			return 0, fd.opErr("read", fd.Err(context.Background(), "read", e))
		}
		if q.eof {
			q.mu.Unlock()
			return 0, io.EOF
		}
		nobufs := q.nobufs
		q.nobufs = false
		armed := q.armed
		q.mu.Unlock()
		if nobufs { // the pool ran dry: data waits on the socket
			n, err := sockIO(unix.SYS_RECVFROM, fd.Sysfd, b, unix.MSG_DONTWAIT)
			switch {
			case err == nil && n == 0:
				return 0, io.EOF
			case err == nil:
				return n, nil
			case err != syscall.EAGAIN && err != syscall.EINTR:
				return 0, fd.opErr("read", fd.Err(context.Background(), "read", err))
			}
		}
		if !armed { // checked here: armRecv's frame stays off an idle reader's stack
			if err := fd.armRecv(); err != nil {
				return 0, fd.opErr("read", err)
			}
		}
		<-fd.ready.notify
	}
}

// take copies queued data into b and hands the buffers it empties back to
// the pool (whose lock Push never takes). q.mu is held.
func (q *recvQueue) take(b []byte) int {
	n, k := 0, 0
	for k < len(q.items) && n < len(b) {
		data := q.pool.Bytes(q.items[k])[q.off:]
		c := copy(b[n:], data)
		n += c
		if c < len(data) {
			q.off += c
			break
		}
		q.pool.Release(q.items[k])
		q.off = 0
		k++
	}
	q.unread -= n
	rest := copy(q.items, q.items[k:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	return n
}

// releaseRecv hands back the buffers a closed connection held unread. It
// runs in the socket's release, when no receive is in flight.
func (s *sock) releaseRecv() {
	q := &s.recv
	q.mu.Lock()
	items := q.items
	q.items, q.unread, q.off = nil, 0, 0
	q.mu.Unlock()
	for _, res := range items {
		q.pool.Release(res)
	}
}

var recvPoolMu sync.Mutex

// recvPool returns r's receive pool, registering it on first use.
func recvPool(r *uring.Ring) *uring.BufferRing {
	if br := r.BufferRing(recvGroup); br != nil {
		return br
	}
	recvPoolMu.Lock()
	defer recvPoolMu.Unlock()
	if br := r.BufferRing(recvGroup); br != nil {
		return br
	}
	br, err := r.NewBufferRing(recvGroup, recvBufs, recvBufSize)
	if err != nil {
		return nil
	}
	return br
}

// recvByMultishot reports whether stream connections on r receive by
// design (a): the kernel caps a multishot receive (ops.RecvMultiLimit) and
// r's pool registers. It asks once per process, on the first ring.
func recvByMultishot(r *uring.Ring) bool {
	multiOnce.Do(func() { multiOK = probeRecvLimit(r) })
	return multiOK && recvPool(r) != nil
}

var (
	multiOnce sync.Once
	multiOK   bool
)

// probeRecvLimit has a capped multishot receive of one byte take two
// waiting bytes: a kernel that honours the cap ends it there (no
// CQEFlagMore); one that predates it fails it with EINVAL.
func probeRecvLimit(r *uring.Ring) bool {
	br := recvPool(r)
	if br == nil {
		return false
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte("ab")); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok := false
	for res, err := range r.Stream(ctx, ops.RecvMultiLimit(fds[0], recvGroup, 0, 1)) {
		ok = err == nil && res.Res == 2 && !res.More()
		br.Release(res)
		break
	}
	return ok
}
