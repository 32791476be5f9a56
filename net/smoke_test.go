//go:build linux

package net_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	unet "github.com/goaio/uring/net"
)

func TestSmokeEchoAndHTTP(t *testing.T) {
	(stack{ring: true}).need(t) // the listener below must be the ring's
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, ok := ln.(*unet.TCPListener)
	require.True(t, ok, "%T", ln)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(c, c)
		c.Close()
	}()
	c, err := unet.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "hello", string(buf))
	require.NoError(t, c.Close())
	require.NoError(t, ln.Close())

	ln2, err := unet.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &httptest.Server{Listener: ln2, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hi " + r.URL.Path))
	})}}
	srv.Start()
	defer srv.Close()
	tr := &http.Transport{DialContext: (&unet.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for i := 0; i < 3; i++ {
		resp, err := cl.Get(srv.URL + "/x")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "hi /x", string(b))
	}
	_ = net.ErrClosed
}
