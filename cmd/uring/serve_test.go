package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer for a writer and a reader on two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs serve until the test ends and returns its address, read
// from its first line of output.
func startServe(t *testing.T, proto, impl string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, proto, impl, "127.0.0.1:0", &out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if line, ok := strings.CutSuffix(out.String(), "\n"); ok {
			addr, found := strings.CutPrefix(line, "listening on ")
			require.True(t, found, "first line %q", line)
			return addr
		}
	}
	t.Fatal("serve printed no address")
	return ""
}

func TestServeEcho(t *testing.T) {
	for _, impl := range []string{"loop", "net", "std"} {
		t.Run(impl, func(t *testing.T) {
			c, err := net.Dial("tcp", startServe(t, "echo", impl))
			require.NoError(t, err)
			defer c.Close()
			msg := bytes.Repeat([]byte("0123456789abcdef"), 1000)
			go c.Write(msg)
			got := make([]byte, len(msg))
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			require.Equal(t, msg, got)
		})
	}
}

// Pipelined requests on one connection are answered in order, each with
// 200, Content-Length 13 and "hello, world\n", and the connection stays open.
func TestServeHTTP(t *testing.T) {
	for _, impl := range []string{"loop", "net", "std"} {
		t.Run(impl, func(t *testing.T) {
			c, err := net.Dial("tcp", startServe(t, "http", impl))
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			paths := []string{"/a", "/b", "/c"}
			var reqs strings.Builder
			for _, p := range paths {
				reqs.WriteString("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
			}
			_, err = io.WriteString(c, reqs.String())
			require.NoError(t, err)
			rd := bufio.NewReader(c)
			for _, p := range paths {
				req, _ := http.NewRequest("GET", p, nil)
				resp, err := http.ReadResponse(rd, req)
				require.NoError(t, err, p)
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, 200, resp.StatusCode)
				require.Equal(t, "HTTP/1.1", resp.Proto)
				require.Equal(t, int64(13), resp.ContentLength)
				require.Equal(t, "hello, world\n", string(body))
				require.False(t, resp.Close, "kept alive")
			}
		})
	}
}

func TestServeBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"serve", "--proto", "ftp"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "unknown --proto")
	stderr.Reset()
	require.Equal(t, 1, run([]string{"serve", "--impl", "gnet"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "unknown --impl")
	require.Equal(t, 2, run([]string{"serve", "extra"}, &stdout, &stderr))
}
