package uring

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// callbacks runs a shard's Async callbacks on a goroutine of their own, one
// at a time and in completion order. Neither the completer nor a submitter ever
// runs user code, so a callback may block in Do, DoBatch or Close: the
// completions it waits for are reaped by others. The goroutine starts with
// the first callback and ends at Close.
type callbacks struct {
	mu      sync.Mutex
	queue   []callback
	running bool
	stop    bool
	wake    chan struct{} // capacity 1: the runner re-checks queue under mu
	done    chan struct{} // closed when the runner returns
	goid    atomic.Uint64 // the runner's goroutine, so Close can tell it is called from one
}

type callback struct {
	fn  func(Result, error)
	res Result
	err error
}

func (c *callbacks) push(cb callback) {
	c.mu.Lock()
	c.queue = append(c.queue, cb)
	start := !c.running
	if start {
		c.running = true
		c.done = make(chan struct{})
		if c.wake == nil {
			c.wake = make(chan struct{}, 1)
		}
	}
	c.mu.Unlock()
	if start {
		go c.run()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *callbacks) run() {
	c.goid.Store(goroutineID())
	var batch []callback
	for {
		c.mu.Lock()
		for len(c.queue) == 0 {
			if c.stop {
				c.running = false
				close(c.done)
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		for i := range batch {
			batch[i].fn(batch[i].res, batch[i].err)
			batch[i] = callback{}
		}
	}
}

// shutdown lets the runner finish what is queued and return, and waits for
// that unless self (the goroutine calling Close) is the runner: a callback
// that closes the Ring must not wait for itself.
func (c *callbacks) shutdown(self uint64) {
	c.mu.Lock()
	c.stop = true
	running, done := c.running, c.done
	c.mu.Unlock()
	if !running {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if c.goid.Load() != self {
		<-done
	}
}

// isRunner reports whether goroutine id runs this shard's callbacks.
func (c *callbacks) isRunner(id uint64) bool { return id != 0 && c.goid.Load() == id }

// goroutineID returns the calling goroutine's ID from its stack header
// ("goroutine 42 [running]:"). Only Close uses it, to tell whether it runs
// inside a callback.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
