//go:build !linux

package uring

import "github.com/goaio/uring/ops"

func encodeSockaddr(sa any, dst []byte) (int, error) { return 0, ops.ErrBadSockaddr }
