package loop_test

import (
	"fmt"
	"io"
	"net"

	"github.com/goaio/uring/loop"
)

// upper answers each message with it in capitals: a gnet-style handler,
// whose received bytes are valid until OnData returns.
type upper struct{ loop.Base }

func (upper) OnData(c *loop.Conn, in []byte) loop.Action {
	out := make([]byte, len(in))
	for i, b := range in {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		out[i] = b
	}
	_, _ = c.Write(out) // queued; sent with the loop's next enter
	return loop.None
}

// A server on GOMAXPROCS event loops, each owning its io_uring (or on std
// net where io_uring is unavailable: the same handler runs either way).
func Example() {
	srv, err := loop.Listen("tcp", "127.0.0.1:0", upper{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte("hello, loop"))
	got := make([]byte, len("hello, loop"))
	if _, err := io.ReadFull(c, got); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(got))
	// Output: HELLO, LOOP
}
