package uring

import (
	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

func encodeSockaddr(sa any, dst []byte) (int, error) {
	usa, ok := sa.(unix.Sockaddr)
	if !ok {
		return 0, ops.ErrBadSockaddr
	}
	return ops.EncodeSockaddr(usa, dst)
}
