package loopback

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	unet "github.com/goaio/uring/net"
)

// The datagram echo (issue 25): PacketReaders goroutines read one socket
// and send each datagram back to its sender; clients do 128-byte ping-pong,
// each on a socket of its own, as a DNS or QUIC server's peers do.

// PacketReaders is how many goroutines read the server's one socket.
const PacketReaders = 4

// packetEchoes are the datagram echo servers by role kind, and their network.
var packetEchoes = map[string]string{"udpecho": "udp", "unixgramecho": "unixgram"}

// servePacket runs the datagram echo on stack's ListenPacket until stdin
// closes, after printing its address.
func servePacket(role, stack, network string) error {
	listen := net.ListenPacket
	if stack == "uring" {
		listen = unet.ListenPacket
	}
	addr := "127.0.0.1:0"
	if network == "unixgram" {
		addr = filepath.Join(os.TempDir(), "uring-echo-"+strconv.Itoa(os.Getpid())+".sock")
		defer os.Remove(addr)
	}
	pc, err := listen(network, addr)
	if err != nil {
		return err
	}
	switch pc.(type) {
	case *net.UDPConn, *net.UnixConn:
		if stack == "uring" {
			return errors.New("io_uring unavailable")
		}
	}
	fmt.Println(pc.LocalAddr())
	if p := os.Getenv(cpuProfileEnv); p != "" {
		if f, err := os.Create(p + "." + role); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		pc.Close()
		if network == "unixgram" {
			os.Remove(addr)
		}
		pprof.StopCPUProfile()
		os.Exit(0)
	}()
	var wg sync.WaitGroup
	for range PacketReaders {
		wg.Go(func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				if _, err := pc.WriteTo(buf[:n], from); err != nil && errors.Is(err, net.ErrClosed) {
					return
				}
			}
		})
	}
	wg.Wait()
	select {} // closed by the stop above, which exits
}

// packetLoss is how long a client waits for its echo before it counts the
// datagram lost and sends the next.
const packetLoss = 200 * time.Millisecond

// PacketEchoLoad has clients std sockets do 128-byte round trips with the
// datagram echo at addr for d, each checked. It returns the round trips
// done and the datagrams lost.
func PacketEchoLoad(network, addr string, clients int, d time.Duration) (uint64, uint64, error) {
	cs := make([]net.Conn, 0, clients)
	dir, err := os.MkdirTemp("", "uring-echo-clients-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := range clients {
		var c net.Conn
		var err error
		if network == "unixgram" {
			c, err = net.DialUnix("unixgram", &net.UnixAddr{Name: filepath.Join(dir, strconv.Itoa(i)), Net: "unixgram"},
				&net.UnixAddr{Name: addr, Net: "unixgram"})
		} else {
			c, err = net.Dial(network, addr)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("client %d: %v", i, err)
		}
		cs = append(cs, c)
	}
	var total, lost atomic.Uint64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i, c := range cs {
		wg.Go(func() {
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, 128)
			in := make([]byte, 256)
			var n, l uint64
			var err error
			for time.Now().Before(stop) {
				if _, err = c.Write(msg); err != nil {
					break
				}
				_ = c.SetReadDeadline(time.Now().Add(packetLoss))
				var m int
				m, err = c.Read(in)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					l, err = l+1, nil
					continue
				}
				if err != nil {
					break
				}
				if !bytes.Equal(in[:m], msg) {
					err = fmt.Errorf("client %d: echoed %q", i, in[:m])
					break
				}
				n++
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			total.Add(n)
			lost.Add(l)
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return total.Load(), lost.Load(), *p
	}
	return total.Load(), lost.Load(), nil
}

// Side is one server of a comparison: a name for the table, its role (see
// StartChild) and environment.
type Side struct {
	Name, Role string
	Env        []string
}

// PacketResult is one side's figures: EchoResult's, per round, and the
// datagrams lost.
type PacketResult struct {
	EchoResult
	Rates, CPUs []float64 // per round: round trips/s, server CPU ns per round trip
	Lost        uint64
}

// ComparePacketEcho measures the datagram echo of each side under clients
// clients for d per round, rounds rounds, alternating the sides within each
// round and their order between rounds (A B, then B A).
func ComparePacketEcho(network string, sides []Side, clients, rounds int, d time.Duration) (map[string]*PacketResult, error) {
	res := map[string]*PacketResult{}
	for round := range rounds {
		order := sides
		if round%2 == 1 {
			order = make([]Side, len(sides))
			for i, s := range sides {
				order[len(sides)-1-i] = s
			}
		}
		for _, side := range order {
			s, err := StartChild(side.Role, side.Env...)
			if err != nil {
				return nil, err
			}
			if _, _, err = PacketEchoLoad(network, s.Addr, clients, d/5); err == nil { // warm-up
				c0 := s.CPU()
				t0 := time.Now()
				var n, lost uint64
				n, lost, err = PacketEchoLoad(network, s.Addr, clients, d)
				el, cpu := time.Since(t0), s.CPU()-c0
				if err == nil && n == 0 {
					err = fmt.Errorf("no round trip in %v", d)
				}
				if err == nil {
					r := res[side.Name]
					if r == nil {
						r = &PacketResult{EchoResult: EchoResult{Role: side.Name}}
						res[side.Name] = r
					}
					r.Rates = append(r.Rates, float64(n)/el.Seconds())
					r.CPUs = append(r.CPUs, float64(cpu)/float64(n))
					r.Trips += n
					r.Lost += lost
					r.Threads = max(r.Threads, s.Threads())
				}
			}
			if stopErr := s.Stop(); err == nil && stopErr != nil {
				err = fmt.Errorf("%s: %v", side.Name, stopErr)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", side.Name, err)
			}
		}
	}
	for _, r := range res {
		r.Rate = Median(r.Rates)
		r.CPUPer = time.Duration(Median(r.CPUs))
	}
	return res, nil
}

// Median of xs (the mean of the middle two for an even count).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
