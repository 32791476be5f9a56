package loop

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// A loop's own ops carry user_data kind<<48 | generation<<32 | index: the
// connection's (recv, send) or the server's (accept) slot on this loop.
const (
	kindRecv = iota + 1
	kindSend
	kindAccept
	kindWake
)

const bufGroup = 1

func tag(kind int, gen uint16, idx int32) uint64 {
	return uint64(kind)<<48 | uint64(gen)<<32 | uint64(uint32(idx))
}

// readyRead is a File read the loop made itself, waiting for its callback.
type readyRead struct {
	cb  func(int, error)
	n   int
	err error
}

// later queues cb(n, err) to run after the current callback.
func (rl *ringLoop) later(cb func(int, error), n int, err error) {
	rl.ready = append(rl.ready, readyRead{cb, n, err})
}

// runReady runs the callbacks of the reads made so far; what they queue
// runs in the next iteration, after the ring's.
func (rl *ringLoop) runReady() {
	q := rl.ready
	rl.ready, rl.readySpare = rl.readySpare[:0], nil
	for i := range q {
		q[i].cb(q[i].n, q[i].err)
		q[i] = readyRead{}
	}
	rl.readySpare = q[:0]
}

// ringLoop is a loop's io_uring side, touched only by its goroutine.
type ringLoop struct {
	l        *Loop
	r        *uring.LocalRing
	bufs     *uring.LocalBuffers
	evfd     int
	wakeBuf  *[8]byte
	wakePin  runtime.Pinner
	wakeOn   bool
	stopping bool

	conns      []*Conn // by index; nil where free
	gens       []uint16
	free       []int32
	dirty      []*Conn // connections with bytes to send this iteration
	pool       []*outBuf
	ready      []readyRead // File reads done by the loop itself: their callbacks run next
	readySpare []readyRead
	servers    []*serverOnLoop
	ownOut     int   // own ops in flight: each ends with one CQE without F_MORE
	clock      int64 // nanoseconds since start, read once per iteration (WithIdleTimeout)
	start      time.Time
}

// serverOnLoop is a Server's accept on one loop.
type serverOnLoop struct {
	s        *Server
	idx      int32
	acceptOn bool
	retry    uint64        // the backoff timer's ID while one runs (0: none)
	backoff  time.Duration // the wait before accepting again after an error
	stopping bool
	conns    int
	reported bool
}

// startRing starts the loop's goroutine and waits until its ring is up.
func (l *Loop) startRing() error {
	ready := make(chan error, 1)
	l.g.wg.Add(1)
	go func() {
		defer l.g.wg.Done()
		// The thread is never unlocked: the ring's registered fd and its
		// task work belong to it, and it exits with the goroutine.
		runtime.LockOSThread()
		rl, err := newRingLoop(l)
		if err != nil {
			ready <- err
			return
		}
		l.tid = unix.Gettid()
		l.ring = rl
		ready <- nil
		rl.run()
	}()
	return <-ready
}

func newRingLoop(l *Loop) (*ringLoop, error) {
	cfg := &l.g.cfg
	r, err := uring.NewLocalRing(cfg.entries, 0)
	if err != nil {
		return nil, err
	}
	rl := &ringLoop{l: l, r: r, evfd: -1, wakeBuf: new([8]byte)}
	fail := func(err error) (*ringLoop, error) {
		// The wake read may be in flight: Close waits for it before the
		// buffer is unpinned and the eventfd closed.
		own := func(ud uint64, res int32, flags uint32) { rl.ownOut-- }
		if r.Close(own, func() bool { return rl.ownOut == 0 }) != nil {
			return nil, err // leaked, not freed under the ring
		}
		if rl.bufs != nil {
			rl.bufs.Free()
		}
		rl.wakePin.Unpin()
		if rl.evfd >= 0 {
			unix.Close(rl.evfd)
		}
		return nil, err
	}
	// Incremental consumption where the kernel has it: small messages
	// share a buffer, so fewer pages are touched and fewer buffers run out.
	if rl.bufs, err = r.NewBuffers(cfg.bufCount, cfg.bufSize, bufGroup, true); errors.Is(err, syscall.EINVAL) {
		rl.bufs, err = r.NewBuffers(cfg.bufCount, cfg.bufSize, bufGroup, false)
	}
	if err != nil {
		return fail(err)
	}
	if rl.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fail(err)
	}
	rl.wakePin.Pin(rl.wakeBuf)
	if err := rl.armWake(); err != nil {
		return fail(err)
	}
	if cfg.idle > 0 {
		rl.start = time.Now()
		if err := rl.armIdleCheck(); err != nil {
			return fail(err)
		}
	}
	return rl, nil
}

// armIdleCheck arms the timeout after which the loop closes connections
// idle for longer than WithIdleTimeout.
func (rl *ringLoop) armIdleCheck() error {
	idle := rl.l.g.cfg.idle
	_, err := rl.r.Submit(ops.Timeout(max(idle/2, time.Millisecond), 0, 0), func(uring.Result) {
		if rl.stopping {
			return
		}
		rl.tick()
		for _, c := range rl.conns {
			if c != nil && !c.closing && time.Duration(rl.clock-c.active) > idle {
				c.fail(c.opError("read", os.ErrDeadlineExceeded))
			}
		}
		_ = rl.armIdleCheck()
	})
	return err
}

// tick reads the loop's clock.
func (rl *ringLoop) tick() { rl.clock = int64(time.Since(rl.start)) }

func (rl *ringLoop) armWake() error {
	op := ops.Read(rl.evfd, rl.wakeBuf[:], 0)
	if err := rl.r.Prep(&op, tag(kindWake, 0, 0)); err != nil {
		return err
	}
	rl.wakeOn = true
	rl.ownOut++
	return nil
}

// wakeUp is called by another goroutine that posted while the loop slept.
func (rl *ringLoop) wakeUp() {
	one := [8]byte{1}
	_, _ = unix.Write(rl.evfd, one[:])
}

// run is the loop: send what handlers wrote, enter (sleeping only when
// nothing is queued), run the callbacks of what completed, run what other
// goroutines posted.
func (rl *ringLoop) run() {
	l := rl.l
	for !rl.stopping {
		if len(rl.ready) > 0 {
			rl.runReady()
		}
		rl.flush()
		if !rl.wakeOn {
			if err := rl.armWake(); err != nil {
				panic("loop: arming the wake-up read: " + err.Error())
			}
		}
		wait := l.queued.Load() == 0 && len(rl.ready) == 0
		if wait {
			l.sleeping.Store(true)
			if l.queued.Load() != 0 {
				wait = false
			}
		}
		err := rl.r.Enter(wait)
		l.sleeping.Store(false)
		if err != nil {
			panic("loop: io_uring_enter: " + err.Error())
		}
		if !rl.start.IsZero() {
			rl.tick()
		}
		rl.r.Reap(rl.complete)
		if l.queued.Load() != 0 {
			l.runQueue()
		}
	}
	rl.close()
}

// close ends every connection and server on the loop, cancels and waits
// for every op, and frees the ring.
func (rl *ringLoop) close() {
	l := rl.l
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.runQueue() // what was posted before the stop still runs
	for _, sv := range rl.servers {
		rl.stopServer(sv.s)
	}
	for _, c := range rl.conns {
		if c != nil {
			c.fail(errServerClosed)
		}
	}
	rl.flush()
	// The drain goes on until the loop's own ops are done; connections
	// that end meanwhile are flushed (their close runs) as it goes.
	err := rl.r.Close(rl.complete, func() bool {
		for len(rl.ready) > 0 {
			rl.runReady()
		}
		rl.flush()
		return rl.ownOut == 0
	})
	if err != nil {
		// The ring may still use the buffers, the pinned memory and the
		// eventfd: they are left, not freed under it.
		return
	}
	rl.bufs.Free()
	for _, o := range rl.pool {
		o.release()
	}
	rl.pool = nil
	rl.wakePin.Unpin()
	unix.Close(rl.evfd)
}

// complete handles the completion of one of the loop's own ops.
func (rl *ringLoop) complete(ud uint64, res int32, flags uint32) {
	more := flags&ops.CQEFlagMore != 0
	if !more {
		rl.ownOut--
	}
	idx := int32(uint32(ud))
	gen := uint16(ud >> 32)
	switch int(ud >> 48) {
	case kindRecv:
		c := rl.conns[idx]
		if c == nil || c.gen != gen {
			rl.dropBuffer(res, flags)
			return
		}
		c.recvDone(res, flags, more)
	case kindSend:
		if c := rl.conns[idx]; c != nil && c.gen == gen {
			c.sendDone(res)
		}
	case kindAccept:
		rl.accepted(rl.servers[idx], res, more)
	case kindWake:
		rl.wakeOn = false // armed again before the loop next sleeps
	}
}

// dropBuffer recycles a received buffer nobody will read.
func (rl *ringLoop) dropBuffer(res int32, flags uint32) {
	if res > 0 && flags&ops.CQEFlagBuffer != 0 {
		if _, bid, done := rl.bufs.Take(flags, int(res)); done {
			rl.bufs.Recycle(bid)
		}
	}
}

// addServer starts accepting s's connections on this loop.
func (rl *ringLoop) addServer(s *Server) {
	sv := &serverOnLoop{s: s, idx: int32(len(rl.servers))}
	rl.servers = append(rl.servers, sv)
	s.onLoop[rl.l.idx] = sv
	rl.armAccept(sv)
}

func (rl *ringLoop) armAccept(sv *serverOnLoop) {
	op := ops.AcceptMulti(sv.s.lfd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
	if err := rl.r.Prep(&op, tag(kindAccept, 0, sv.idx)); err != nil {
		sv.stopping = true
		rl.serverDone(sv)
		return
	}
	sv.acceptOn = true
	rl.ownOut++
}

func (rl *ringLoop) accepted(sv *serverOnLoop, res int32, more bool) {
	if !more {
		sv.acceptOn = false
	}
	if res >= 0 {
		sv.backoff = 0
		fd := int(res)
		if sv.stopping {
			unix.Close(fd)
		} else {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			rl.open(sv, fd)
		}
	}
	if sv.acceptOn {
		return
	}
	switch {
	case sv.stopping:
		rl.serverDone(sv)
	case res < 0 && res != -int32(syscall.ECANCELED):
		// EMFILE, ENFILE, ENOBUFS would fail again at once: wait before
		// accepting again, 5 ms doubling to 1 s, as net/http's Serve does.
		sv.backoff = min(max(2*sv.backoff, 5*time.Millisecond), time.Second)
		id, err := rl.r.Submit(ops.Timeout(sv.backoff, 0, 0), func(uring.Result) {
			sv.retry = 0
			if sv.stopping {
				rl.serverDone(sv)
				return
			}
			rl.armAccept(sv)
		})
		if err != nil {
			rl.armAccept(sv)
			return
		}
		sv.retry = id
	default:
		rl.armAccept(sv) // the kernel ended the multishot accept
	}
}

// open makes the connection for fd, starts receiving and runs OnOpen.
func (rl *ringLoop) open(sv *serverOnLoop, fd int) {
	var idx int32
	if n := len(rl.free); n > 0 {
		idx = rl.free[n-1]
		rl.free = rl.free[:n-1]
	} else {
		idx = int32(len(rl.conns))
		rl.conns = append(rl.conns, nil)
		rl.gens = append(rl.gens, 0)
	}
	rl.gens[idx]++ // the slot's last connection's late completions never reach this one
	c := &Conn{l: rl.l, s: sv.s, rl: rl, sv: sv, fd: fd, idx: idx, gen: rl.gens[idx], active: rl.clock}
	rl.conns[idx] = c
	sv.conns++
	c.armRecv()
	if sv.s.h.OnOpen(c) == Close {
		c.Close()
	}
}

// release frees connection c's slot once its descriptor is closed.
func (rl *ringLoop) release(c *Conn) {
	rl.conns[c.idx] = nil
	rl.free = append(rl.free, c.idx)
	c.sv.conns--
	if c.sv.stopping {
		rl.serverDone(c.sv)
	}
}

// stopServer stops s's accept on this loop and closes its connections.
func (rl *ringLoop) stopServer(s *Server) {
	sv := s.onLoop[rl.l.idx]
	if sv == nil || sv.stopping {
		return
	}
	sv.stopping = true
	if sv.acceptOn {
		_ = rl.r.Cancel(tag(kindAccept, 0, sv.idx))
	}
	if sv.retry != 0 {
		_ = rl.r.Cancel(sv.retry)
	}
	for _, c := range rl.conns {
		if c != nil && c.sv == sv {
			c.fail(errServerClosed)
		}
	}
	rl.serverDone(sv)
}

// serverDone tells s this loop is done with it, once nothing of it is left.
func (rl *ringLoop) serverDone(sv *serverOnLoop) {
	if sv.reported || sv.acceptOn || sv.retry != 0 || sv.conns > 0 {
		return
	}
	sv.reported = true
	sv.s.wg.Done()
}

// flush sends what the dirty connections wrote.
func (rl *ringLoop) flush() {
	// By index: a send, or a close and its OnClose, may mark connections
	// dirty while the list is walked, and they are sent in this walk.
	for i := 0; i < len(rl.dirty); i++ {
		c := rl.dirty[i]
		rl.dirty[i] = nil
		c.dirty = false
		c.send()
	}
	rl.dirty = rl.dirty[:0]
}

func gettid() int { return unix.Gettid() }
