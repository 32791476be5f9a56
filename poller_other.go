//go:build !linux

package uring

import "errors"

func newPoller(s *shard) (completer, error) { return nil, errors.ErrUnsupported }

type owner struct {
	s     *shard
	begin chan struct{}
}

func startOwner(create func() (*kernelRing, error), netpoll bool) (*owner, *kernelRing, error) {
	return nil, nil, errors.ErrUnsupported
}
func (o *owner) wake()             {}
func (o *owner) woke(flags uint32) {}
func (o *owner) stop()             {}
func (o *owner) wakeups() uint64   { return 0 }
