package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// probeTimeout bounds each capability check.
const probeTimeout = 3 * time.Second

func probeKernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// diagnose turns the error from Available or New into the reason and the fix,
// looking at what can cause each errno of io_uring_setup(2).
func diagnose(err error) (reason, fix string) {
	if !probeCgo {
		return "this binary was built with CGO_ENABLED=0: the library reaches io_uring through liburing, which needs cgo",
			"rebuild with CGO_ENABLED=1, a C compiler and liburing-dev installed (sudo apt-get install -y liburing-dev)"
	}
	var en syscall.Errno
	if !errors.As(err, &en) {
		// A kernel below the floor ends up here: the error names what it lacks.
		return err.Error(), "use Linux " + uring.FloorVersion + " or later; until then the fs and net packages use os and net"
	}
	seccomp := seccompMode()
	switch en {
	case syscall.EPERM, syscall.EACCES:
		if r, f, ok := diagnoseDisabled(en); ok {
			return r, f
		}
		if seccomp == 2 {
			return seccompReason(en), seccompFix
		}
		return fmt.Sprintf("io_uring_setup failed with %s (%v) and neither kernel.io_uring_disabled nor a seccomp filter explains it: "+
				"a security module (SELinux, AppArmor) may deny io_uring", errnoName(en), en),
			"look for io_uring denials in the audit log (ausearch -m avc, dmesg) and allow io_uring for this program"
	case syscall.ENOSYS:
		if seccomp == 2 {
			return seccompReason(en), seccompFix
		}
		return "the kernel has no io_uring_setup (ENOSYS): " + kernelWithoutIOUring(),
			"use Linux " + uring.FloorVersion + " or later built with CONFIG_IO_URING=y"
	case syscall.ENOMEM:
		return "io_uring_setup failed with ENOMEM: the kernel charges the ring's memory to the locked-memory limit, " +
				"and it does not fit in RLIMIT_MEMLOCK (" + memlockLimit() + ")",
			"raise the limit: ulimit -l unlimited in the shell, LimitMEMLOCK=infinity for a systemd unit, " +
				"docker run --ulimit memlock=-1:-1 for a container, or memlock in /etc/security/limits.conf"
	case syscall.EMFILE, syscall.ENFILE:
		return fmt.Sprintf("io_uring_setup failed with %s: no file descriptor left for the ring", errnoName(en)),
			"raise the open-file limit (ulimit -n) or close descriptors"
	}
	return fmt.Sprintf("io_uring_setup failed with %s (%v)", errnoName(en), en), ""
}

const seccompFix = "allow io_uring_setup, io_uring_enter and io_uring_register in the container's seccomp profile: " +
	"docker/podman run --security-opt seccomp=PROFILE.json (a copy of the default profile with the three syscalls added) " +
	"or --security-opt seccomp=unconfined; in Kubernetes, securityContext.seccompProfile; for a systemd unit, " +
	"add io_uring_setup io_uring_enter io_uring_register to SystemCallFilter="

func seccompReason(en syscall.Errno) string {
	return fmt.Sprintf("a seccomp filter blocks io_uring_setup (%s): most likely the container runtime's default "+
		"seccomp profile (Docker's and containerd's leave io_uring out), or systemd's SystemCallFilter=", errnoName(en))
}

// diagnoseDisabled explains an EPERM caused by the kernel.io_uring_disabled
// sysctl (Linux 6.6): 2 disables io_uring for everyone, 1 for all but
// CAP_SYS_ADMIN and the members of kernel.io_uring_group.
func diagnoseDisabled(en syscall.Errno) (reason, fix string, ok bool) {
	v, err := readProcInt("/proc/sys/kernel/io_uring_disabled")
	if err != nil || v == 0 {
		return "", "", false
	}
	const enable = "sudo sysctl -w kernel.io_uring_disabled=0 (persist it in /etc/sysctl.d/)"
	if v == 2 {
		return fmt.Sprintf("kernel.io_uring_disabled=2: io_uring is disabled for every process (io_uring_setup: %s)", errnoName(en)),
			enable, true
	}
	group := "unset (-1), so no group"
	if g, err := readProcInt("/proc/sys/kernel/io_uring_group"); err == nil && g >= 0 {
		group = "gid " + strconv.Itoa(g)
	}
	return fmt.Sprintf("kernel.io_uring_disabled=1: only processes with CAP_SYS_ADMIN or in group kernel.io_uring_group (%s) may create rings, "+
			"and this one (uid %d) is neither (io_uring_setup: %s)", group, os.Getuid(), errnoName(en)),
		enable + ", or add this user to a group and set kernel.io_uring_group to its gid", true
}

// seccompMode is the Seccomp field of /proc/self/status: 0 none, 1 strict,
// 2 filter, -1 unknown.
func seccompMode() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func readProcInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func memlockLimit() string {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return "unknown"
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(lim.Cur/1024, 10) + " KiB"
}

// kernelWithoutIOUring says why a kernel without a seccomp filter lacks the
// system call: too old, or built without it.
func kernelWithoutIOUring() string {
	rel := probeKernelRelease()
	var major, minor int
	if _, err := fmt.Sscanf(rel, "%d.%d", &major, &minor); err == nil && (major < 5 || major == 5 && minor < 1) {
		return "Linux " + rel + " predates io_uring (5.1)"
	}
	return "Linux " + rel + " was built without CONFIG_IO_URING"
}

func errnoName(en syscall.Errno) string {
	if name := unix.ErrnoName(en); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(int(en))
}

// capabilityError adds the likely cause to errors whose cause is not obvious
// from the errno alone.
func capabilityError(err error) error {
	if errors.Is(err, syscall.ENOMEM) {
		return fmt.Errorf("%w (locked-memory limit %s; raise it with ulimit -l)", err, memlockLimit())
	}
	return err
}

// checkCapabilities tries each facility on r, the ring probe keeps, each
// check cleaning up after itself; SQPOLL needs a ring of its own, set up
// last. Rings count against the locked-memory limit and a closed ring's
// memory is released asynchronously: a ring per check could fail for want of
// memory a user's program would have.
func checkCapabilities(r *uring.Ring) map[string]error {
	checks := map[string]func(context.Context, *uring.Ring) error{
		"registered_buffers": checkRegisteredBuffers,
		"buffer_ring":        checkBufferRing,
		"multishot_accept":   checkMultishotAccept,
		"multishot_recv":     checkMultishotRecv,
		"send_zc":            checkSendZC,
	}
	errs := map[string]error{}
	for _, name := range probeCapabilities {
		if check, ok := checks[name]; ok {
			errs[name] = bounded(r, check)
		}
	}
	errs["sqpoll"] = bounded(nil, checkSQPoll)
	return errs
}

// memlockReport reads RLIMIT_MEMLOCK and whether it applies to this process.
func memlockReport() probeMemlock {
	m := probeMemlock{LimitKiB: -1, Charged: !hasCapIPCLock()}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err == nil && lim.Cur != unix.RLIM_INFINITY {
		m.LimitKiB = int64(lim.Cur / 1024)
	}
	return m
}

// hasCapIPCLock reports whether CAP_IPC_LOCK (bit 14) is in the effective
// set: io_uring charges nothing to RLIMIT_MEMLOCK then.
func hasCapIPCLock() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_IPC_LOCK) != 0
		}
	}
	return false
}

// bounded runs check with a deadline: a facility that never completes is
// reported as not working instead of hanging the probe.
func bounded(r *uring.Ring, check func(context.Context, *uring.Ring) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := check(ctx, r); err != nil {
		return capabilityError(err)
	}
	return nil
}

// checkSQPoll runs a NOP through a ring whose submission queue a kernel thread
// polls (unprivileged since Linux 5.11).
func checkSQPoll(ctx context.Context, _ *uring.Ring) error {
	r, err := uring.New(uring.WithEntries(8), uring.WithSQPoll(10*time.Millisecond, -1))
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Do(ctx, ops.Nop())
	return err
}

// checkRegisteredBuffers writes from and reads into a registered buffer
// through a pipe.
func checkRegisteredBuffers(ctx context.Context, r *uring.Ring) error {
	buf := make([]byte, 8192)
	if err := r.RegisterBuffers([][]byte{buf}); err != nil {
		return err
	}
	defer r.UnregisterBuffers()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	msg := []byte("registered")
	copy(buf, msg)
	if _, err := r.Do(ctx, ops.WriteFixed(p[1], buf[:len(msg)], -1, 0)); err != nil {
		return fmt.Errorf("write_fixed: %w", err)
	}
	in := buf[4096 : 4096+len(msg)]
	res, err := r.Do(ctx, ops.ReadFixed(p[0], in, -1, 0))
	if err != nil {
		return fmt.Errorf("read_fixed: %w", err)
	}
	if !bytes.Equal(in[:res.N()], msg) {
		return fmt.Errorf("read_fixed read %q, want %q", in[:res.N()], msg)
	}
	return nil
}

// checkBufferRing registers a provided-buffer ring and has a receive pick
// its buffer from it.
func checkBufferRing(ctx context.Context, r *uring.Ring) error {
	br, err := r.NewBufferRing(1, 8, 4096)
	if err != nil {
		return err
	}
	defer br.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	msg := []byte("provided")
	if _, err := unix.Write(fds[1], msg); err != nil {
		return err
	}
	op := ops.Recv(fds[0], nil, 0).WithFlags(ops.FlagBufferSelect)
	op.BufIndex = br.Group
	res, err := r.Do(ctx, op)
	if err != nil {
		return fmt.Errorf("recv with a provided buffer: %w", err)
	}
	defer br.Release(res)
	if got := br.Bytes(res); !bytes.Equal(got, msg) {
		return fmt.Errorf("recv with a provided buffer got %q, want %q", got, msg)
	}
	return nil
}

// checkMultishotAccept accepts two connections with one multishot accept,
// then cancels it by leaving the Stream.
func checkMultishotAccept(ctx context.Context, r *uring.Ring) error {
	lfd, addr, err := listenLoopback()
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
	}
	accepted := 0
	for res, err := range r.Stream(ctx, ops.AcceptMulti(lfd, unix.SOCK_CLOEXEC)) {
		if err != nil {
			return fmt.Errorf("multishot accept after %d connections: %w", accepted, err)
		}
		unix.Close(res.N())
		accepted++
		if !res.More() {
			return errors.New("multishot accept ended after one connection (no IORING_CQE_F_MORE)")
		}
		if accepted == 2 {
			break
		}
	}
	return nil
}

// checkMultishotRecv receives two messages with one multishot receive into a
// provided-buffer ring, then cancels it.
func checkMultishotRecv(ctx context.Context, r *uring.Ring) error {
	br, err := r.NewBufferRing(2, 8, 4096)
	if err != nil {
		return fmt.Errorf("buffer ring: %w", err)
	}
	defer br.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	msgs := []string{"first", "second"}
	if _, err := unix.Write(fds[1], []byte(msgs[0])); err != nil {
		return err
	}
	got := 0
	for res, err := range r.Stream(ctx, ops.RecvMulti(fds[0], br.Group, 0)) {
		if err != nil {
			return fmt.Errorf("multishot recv after %d messages: %w", got, err)
		}
		data := string(br.Bytes(res))
		br.Release(res)
		if data != msgs[got] {
			return fmt.Errorf("multishot recv got %q, want %q", data, msgs[got])
		}
		got++
		if !res.More() {
			return errors.New("multishot recv ended after one message (no IORING_CQE_F_MORE)")
		}
		if got == len(msgs) {
			break
		}
		if _, err := unix.Write(fds[1], []byte(msgs[got])); err != nil {
			return err
		}
	}
	return nil
}

// checkSendZC sends with zero copy over loopback TCP: the kernel supports
// zero-copy sends only on TCP and UDP sockets (an AF_UNIX socketpair fails
// with EOPNOTSUPP on every kernel).
func checkSendZC(ctx context.Context, r *uring.Ring) error {
	lfd, addr, err := listenLoopback()
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	msg := []byte("zero copy")
	res, err := r.Do(ctx, ops.SendZC(sfd, msg, 0))
	if err != nil {
		return err
	}
	if res.N() != len(msg) {
		return fmt.Errorf("send_zc sent %d bytes, want %d", res.N(), len(msg))
	}
	got := make([]byte, len(msg))
	deadline, _ := ctx.Deadline()
	c.SetReadDeadline(deadline)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading what send_zc sent: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("send_zc delivered %q, want %q", got, msg)
	}
	return nil
}

// listenLoopback returns a blocking TCP socket listening on 127.0.0.1 and
// its address.
func listenLoopback() (int, string, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	if err := unix.Listen(fd, 8); err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	return fd, fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port), nil
}
