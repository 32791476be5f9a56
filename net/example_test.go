package net_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	unet "github.com/goaio/uring/net"
)

// Serve net/http on this package's listener, and fetch from it with a
// client that dials with this package's Dialer: the accepts and the connect
// are ring operations, and the connections' reads and writes wait in Go's
// netpoller as std's do. Where io_uring is unavailable the same code runs on
// std's sockets.
func ExampleListen() {
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DialContext: (&unet.Dialer{}).DialContext}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/ring")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: hello from /ring
}

// An echo server and a client: the connections are net.Conn, with std's
// semantics (deadlines, io.EOF, net.ErrClosed).
func ExampleDial() {
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
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
		io.Copy(c, c) // echo until the client closes its side
	}()

	c, err := unet.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "ping")
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Println(strings.TrimSpace(line))
	// Output: ping
}
