package loopback

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	unet "github.com/goaio/uring/net"
)

// A benchmark's server runs in a child process (the benchmark's own binary,
// re-executed), so the load generator and the server do not share a Go
// runtime and the server's CPU and memory can be read alone.
//
// In the child, these environment variables are read:
//
//	URING_LOOPBACK_SERVER      the role: "<stack>-<server>", stack "uring" or "std", server a name in Servers; or a role of OwnListener
//	URING_LOOPBACK_CPUPROFILE  P: each server writes its CPU profile to P.<role> (the last one of a role stays)
//	URING_LOOPBACK_MEMSTATS    if set, the server prints its runtime memory on stderr at the end and on SIGUSR1
const (
	serverEnv     = "URING_LOOPBACK_SERVER"
	cpuProfileEnv = "URING_LOOPBACK_CPUPROFILE"
	memStatsEnv   = "URING_LOOPBACK_MEMSTATS"
)

// ServeIfChild makes the process the server StartChild asked for, when it
// is that child: it serves until its stdin closes and exits. Otherwise it
// returns at once. A binary that starts children calls it first thing (in
// main, or in a test binary's TestMain or init).
func ServeIfChild() {
	role := os.Getenv(serverEnv)
	if role == "" {
		return
	}
	if err := serve(role); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serve runs role's server until stdin closes, after printing its address
// on stdout.
func serve(role string) error {
	// Before the address is printed: a SIGUSR2 with no handler is lost.
	onLiveHeapSignal(func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("live %d %d %d\n", ms.HeapAlloc, ms.HeapObjects, runtime.NumGoroutine())
	})
	if run := OwnListener[role]; run != nil {
		return serveOwn(role, run)
	}
	stack, kind, ok := strings.Cut(role, "-")
	if network, packet := packetEchoes[kind]; ok && packet && (stack == "uring" || stack == "std") {
		return servePacket(role, stack, network)
	}
	run := Servers[kind]
	if !ok || (stack != "uring" && stack != "std") || run == nil {
		return fmt.Errorf("unknown role %q", role)
	}
	listen := net.Listen
	if stack == "uring" {
		listen = unet.Listen
	}
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, std := ln.(*net.TCPListener); stack == "uring" && std { // unet fell back to std's
		return errors.New("io_uring unavailable")
	}
	fmt.Println(ln.Addr())
	if p := os.Getenv(cpuProfileEnv); p != "" {
		if f, err := os.Create(p + "." + role); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile() // for the error paths; the normal end is below
		}
	}
	memStats := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "%s: stacks %d KiB, heap in use %d KiB, other sys %d KiB, goroutines %d\n",
			role, ms.StackInuse>>10, ms.HeapInuse>>10, (ms.Sys-ms.HeapSys-ms.StackSys)>>10, runtime.NumGoroutine())
	}
	if os.Getenv(memStatsEnv) != "" {
		onMemStatsSignal(memStats)
	}
	var stopping atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stopping.Store(true)
		// Closed before the exit: the kernel tears an exiting process's
		// ring down in the background, and a listener the ring still
		// references would go on accepting for a while after Stop returns.
		ln.Close()
		pprof.StopCPUProfile()
		if os.Getenv(memStatsEnv) != "" {
			memStats()
		}
		os.Exit(0)
	}()
	err = run(ln)
	if stopping.Load() {
		select {} // the stop above closed the listener, and exits when Close is done
	}
	return err
}

// serveOwn runs a server of OwnListener until stdin closes.
func serveOwn(role string, run func(listening func(addr string)) error) error {
	if p := os.Getenv(cpuProfileEnv); p != "" {
		if f, err := os.Create(p + "." + role); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		pprof.StopCPUProfile()
		ownClosers.Lock()
		for _, f := range ownClosers.fs {
			f()
		}
		os.Exit(0)
	}()
	return run(func(addr string) { fmt.Println(addr) })
}

// ownClosers run before an OwnListener child exits: a server whose ring
// holds its listener closes it first, or the kernel's background teardown
// of the exiting process's ring leaves it accepting for a while after Stop
// returns.
var ownClosers struct {
	sync.Mutex
	fs []func()
}

// closeBeforeExit registers f with ownClosers.
func closeBeforeExit(f func()) {
	ownClosers.Lock()
	ownClosers.fs = append(ownClosers.fs, f)
	ownClosers.Unlock()
}

// OwnListener are the servers that bind their own socket (gnet, say), by
// role: each calls listening with its address once it accepts. A module of
// benchmarks adds its own before ServeIfChild.
var OwnListener = map[string]func(listening func(addr string)) error{}

// Servers are the servers a child can run on its listener, by name. A
// module of benchmarks adds its own (fasthttp, say) before ServeIfChild.
var Servers = map[string]func(net.Listener) error{
	"echo": ServeEcho,
	"http": func(ln net.Listener) error { return http.Serve(ln, Hello) },
}

// Child is a server in a child process.
type Child struct {
	Addr  string // where it listens, host:port
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader // the server's stdout after its address
}

// LiveHeap asks the server (SIGUSR2) to collect garbage and report its live
// heap: bytes, objects and goroutines.
func (c *Child) LiveHeap() (bytes, objects uint64, goroutines int, err error) {
	if err := c.cmd.Process.Signal(liveHeapSignal); err != nil {
		return 0, 0, 0, err
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return 0, 0, 0, err
	}
	_, err = fmt.Sscanf(line, "live %d %d %d", &bytes, &objects, &goroutines)
	return bytes, objects, goroutines, err
}

// StartChild re-executes this binary as role's server (see ServeIfChild)
// with env added to its environment, and returns once it listens.
func StartChild(role string, env ...string) (*Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), serverEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	rd := bufio.NewReader(out)
	line, err := rd.ReadString('\n')
	line = strings.TrimSpace(line)
	if err != nil || strings.HasPrefix(line, "error") || line == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("server %s did not start: %q %v", role, line, err)
	}
	return &Child{Addr: line, cmd: cmd, stdin: stdin, out: rd}, nil
}

// Stop closes the server's stdin and waits for it to exit; later calls do
// nothing.
func (c *Child) Stop() error {
	if c.stdin == nil {
		return nil
	}
	c.stdin.Close()
	c.stdin = nil
	return c.cmd.Wait()
}

// Signal sends sig to the server.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// CPU returns the server's user plus system CPU time so far (0 without
// /proc).
func (c *Child) CPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

var (
	rssRe      = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)
	threadsRe  = regexp.MustCompile(`Threads:\s+(\d+)`)
	switchesRe = regexp.MustCompile(`(?m)^(?:non)?voluntary_ctxt_switches:\s+(\d+)`)
)

// RSSKiB returns the server's resident set size.
func (c *Child) RSSKiB() int64 { return c.statusField(rssRe) }

// Threads returns the server's OS threads.
func (c *Child) Threads() int { return int(c.statusField(threadsRe)) }

func (c *Child) statusField(re *regexp.Regexp) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	m := re.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v
}

// Switches returns the context switches of all the server's threads.
func (c *Child) Switches() int64 {
	dirs, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", c.cmd.Process.Pid))
	var n int64
	for _, d := range dirs {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", c.cmd.Process.Pid, d.Name()))
		for _, m := range switchesRe.FindAllSubmatch(b, -1) {
			v, _ := strconv.ParseInt(string(m[1]), 10, 64)
			n += v
		}
	}
	return n
}
