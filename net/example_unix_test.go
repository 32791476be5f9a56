//go:build unix

package net_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"syscall"
	"time"

	unet "github.com/goaio/uring/net"
)

// A ListenConfig sets up listening sockets as net.ListenConfig does: here
// Control sets SO_REUSEADDR before bind, and accepted connections get TCP
// keep-alives every 30 seconds.
func ExampleListenConfig() {
	lc := &unet.ListenConfig{
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprint(c, "echo: "+line) // echo one line, then close
	}()

	c, err := unet.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	reply, _ := io.ReadAll(c)
	fmt.Print(string(reply))
	// Output: echo: hello
}
