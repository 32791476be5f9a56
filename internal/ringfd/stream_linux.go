package ringfd

import "golang.org/x/sys/unix"

// StreamKind says what a descriptor on the other side of a copy is, for the
// splice paths.
type StreamKind int

const (
	NotStream    StreamKind = iota
	PipeStream              // a pipe or FIFO
	SocketStream            // a TCP or unix stream socket
)

// KindOf reports what fd is.
func KindOf(fd int) StreamKind {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return NotStream
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return PipeStream
	case unix.S_IFSOCK:
		typ, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		dom, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err1 == nil && err2 == nil && typ == unix.SOCK_STREAM &&
			(dom == unix.AF_INET || dom == unix.AF_INET6 || dom == unix.AF_UNIX) {
			return SocketStream
		}
	}
	return NotStream
}
