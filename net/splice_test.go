//go:build linux

package net_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	unet "github.com/goaio/uring/net"
)

// TCPConn.ReadFrom a socket (the splice path): from a std connection and
// from one of ours, whole and through an io.LimitedReader, with the bytes
// checked on the far side and what the limit left still readable.
func TestTCPReadFromSocket(t *testing.T) {
	(stack{ring: true}).need(t)
	data := make([]byte, 8<<20+13)
	rnd := rand.NewChaCha8([32]byte{3})
	_, _ = rnd.Read(data)

	for _, srcSide := range []string{"std", "ring"} {
		for _, limit := range []int64{-1, 100_001} {
			// The source: a connection whose peer writes data and closes.
			feed, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() {
				c, err := feed.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write(data)
				c.Close()
			}()
			var src net.Conn
			if srcSide == "std" {
				src, err = net.Dial("tcp", feed.Addr().String())
			} else {
				src, err = unet.Dial("tcp", feed.Addr().String())
			}
			require.NoError(t, err)

			// The destination: our connection to a peer that keeps all it reads.
			sink, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			got := make(chan []byte, 1)
			go func() {
				c, err := sink.Accept()
				if err != nil {
					got <- nil
					return
				}
				b, _ := io.ReadAll(c)
				c.Close()
				got <- b
			}()
			dst, err := unet.Dial("tcp", sink.Addr().String())
			require.NoError(t, err)
			var r io.Reader = src
			want := data
			if limit >= 0 {
				r = &io.LimitedReader{R: src, N: limit}
				want = data[:limit]
			}
			n, err := dst.(*unet.TCPConn).ReadFrom(r)
			require.NoError(t, err, "%s source, limit %d", srcSide, limit)
			require.Equal(t, int64(len(want)), n)
			if lr, ok := r.(*io.LimitedReader); ok {
				require.Zero(t, lr.N)
				rest, err := io.ReadAll(src)
				require.NoError(t, err)
				require.True(t, bytes.Equal(rest, data[limit:]), "the limit must leave the rest in the source")
			}
			require.NoError(t, dst.Close())
			require.True(t, bytes.Equal(<-got, want), "%s source, limit %d: bytes differ", srcSide, limit)
			src.Close()
			feed.Close()
			sink.Close()
		}
	}
}
