// Package loopback holds the servers the network benchmarks measure, so
// uring bench and internal/netbench run the same code on both sides, and
// runs them in a child process (StartChild, ServeIfChild), so a server's
// CPU and memory are its own and not the load generator's.
package loopback

import (
	"net"
	"net/http"
)

// ServeEcho accepts connections on ln until it fails, echoing each
// connection's bytes back in reads of up to 512 bytes.
func ServeEcho(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 512)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

// Hello answers every request with "hello".
var Hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte("hello"))
})
