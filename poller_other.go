//go:build !linux

package uring

import "errors"

func newPoller(s *shard) (completer, error) { return nil, errors.ErrUnsupported }
