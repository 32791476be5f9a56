package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

// The echo and http cases serve from a child process: while a side runs,
// the listening socket is not one of this process's descriptors, the
// server's own CPU time is what the sample counts, and stopping the side
// ends the child.
func TestBenchServerInChild(t *testing.T) {
	sides := []string{"std"}
	if uring.Available() == nil {
		sides = append(sides, "uring", "loop")
	}
	for _, stack := range sides {
		for _, kind := range []string{"echo", "http"} {
			t.Run(stack+"-"+kind, func(t *testing.T) {
				env := &benchEnv{goroutines: 4}
				build := echo(stack)
				if kind == "http" {
					build = httpHello(stack)
				}
				newStep, cleanup, err := build(env)
				require.NoError(t, err)
				require.NotNil(t, env.server)
				srv := env.server
				ino := listenInode(t, srv.Addr)
				require.False(t, ownsSocket(t, ino), "the %s server's listener (socket:[%s]) is in the bench process", stack, ino)
				cpu0 := srv.CPU()
				s, err := measure(4, 200e6, newStep, subject{cpu: srv.CPU, threads: srv.Threads})
				require.NoError(t, err)
				require.Positive(t, s.ops)
				require.Greater(t, srv.CPU(), cpu0, "the child served the load")
				cleanup()
				require.Nil(t, env.server)
				_, err = net.Dial("tcp", srv.Addr)
				require.Error(t, err, "the child still listens after the side's cleanup")
			})
		}
	}
}

// listenInode returns the inode of the TCP socket listening on addr
// (/proc/net/tcp: local address in hex, state 0A).
func listenInode(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	f, err := os.Open("/proc/net/tcp")
	require.NoError(t, err)
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", p)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 9 && fl[1] == want && fl[3] == "0A" {
			return fl[9]
		}
	}
	t.Fatalf("no listener on %s in /proc/net/tcp", addr)
	return ""
}

// ownsSocket reports whether one of this process's descriptors is the
// socket with inode ino.
func ownsSocket(t *testing.T, ino string) bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && l == "socket:["+ino+"]" {
			return true
		}
	}
	return false
}
