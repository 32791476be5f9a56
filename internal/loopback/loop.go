package loopback

import (
	"bytes"
	"errors"

	"github.com/goaio/uring/loop"
)

// The servers of package loop, as child roles: echo and the hello HTTP
// responder, each on a Group of GOMAXPROCS loops that binds its own socket.
func init() {
	OwnListener["loop-echo"] = serveLoop(LoopEcho{})
	OwnListener["loop-http"] = serveLoop(LoopHello{})
}

func serveLoop(h loop.Handler) func(listening func(addr string)) error {
	return func(listening func(addr string)) error {
		s, err := loop.Listen("tcp", "127.0.0.1:0", h)
		if err != nil {
			return err
		}
		if err := s.Group().Fallback(); err != nil {
			s.Close()
			return errors.Join(errors.New("io_uring unavailable"), err)
		}
		closeBeforeExit(func() { s.Close() })
		listening(s.Addr().String())
		select {} // until the parent closes stdin
	}
}

// LoopEcho writes back what arrives.
type LoopEcho struct{ loop.Base }

func (LoopEcho) OnData(c *loop.Conn, in []byte) loop.Action {
	_, _ = c.Write(in)
	return loop.None
}

// HelloResponse is every answer of the hello HTTP responders (this one and
// gnet's in stacks): 200, 13 bytes of body.
var HelloResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n")

var endOfHeader = []byte("\r\n\r\n")

// LoopHello answers every HTTP/1.1 request without a body (GET, HEAD),
// pipelined ones in order, with HelloResponse. A request split across
// receives waits in the connection's context until its end arrives.
type LoopHello struct{ loop.Base }

func (LoopHello) OnData(c *loop.Conn, in []byte) loop.Action {
	held, _ := c.Context().(*[]byte)
	data := in
	if held != nil && len(*held) > 0 {
		*held = append(*held, in...)
		data = *held
	}
	n, rest := CountRequests(data)
	for range n {
		_, _ = c.Write(HelloResponse)
	}
	if len(rest) > 0 {
		if held == nil {
			held = new([]byte)
			c.SetContext(held)
		}
		*held = append((*held)[:0], rest...) // copy: rest may be in held or in in
	} else if held != nil {
		*held = (*held)[:0]
	}
	return loop.None
}

// CountRequests counts the complete request heads in data and returns
// what follows the last one.
func CountRequests(data []byte) (int, []byte) {
	n := 0
	for {
		i := bytes.Index(data, endOfHeader)
		if i < 0 {
			return n, data
		}
		n++
		data = data[i+len(endOfHeader):]
	}
}
