//go:build !linux

package pagecache

import (
	"os"
	"time"
)

// SkipError says why a file's pages cannot be kept out of the cache here.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// DropEvery is how often KeepCold drops the file's pages again.
const DropEvery = 100 * time.Millisecond

// KeepCold cannot drop pages here (no fadvise(2)).
func KeepCold(string) (func(), error) { return nil, &SkipError{"no fadvise(2) on this system"} }

// Drop is not available here.
func Drop(*os.File) error { return &SkipError{"no fadvise(2) on this system"} }

// Resident is not available here.
func Resident(*os.File) (float64, error) { return 0, &SkipError{"no mincore(2) on this system"} }
