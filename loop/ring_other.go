//go:build !linux

package loop

import (
	"fmt"
	"net"
	"runtime"

	"github.com/goaio/uring"
)

// Without Linux there is no ring: every loop runs on the std fallback.

type ringLoop struct {
	r        *uring.LocalRing
	stopping bool
}

type serverOnLoop struct{}

var errServerClosed = net.ErrClosed

const shrinkAbove = 64 << 10

func (l *Loop) startRing() error {
	return fmt.Errorf("loop: io_uring is Linux only; this is %s: %w", runtime.GOOS, uring.ErrUnsupported)
}

func (rl *ringLoop) wakeUp()                  {}
func (rl *ringLoop) addServer(*Server)        {}
func (rl *ringLoop) stopServer(*Server)       {}
func (c *Conn) ringWrite([]byte) (int, error) { return 0, net.ErrClosed }
func (c *Conn) ringClose() error              { return net.ErrClosed }
func (c *Conn) ringCloseWrite() error         { return net.ErrClosed }
func (c *Conn) ringAddr(bool) net.Addr        { return nil }

func gettid() int { return -1 }
