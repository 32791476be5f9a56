//go:build linux

package uring_test

// Temporary: the dispatch-rule candidates side by side (deleted after).

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/goaio/uring"
	"github.com/goaio/uring/fs"
)

func openRule(tb testing.TB, path string, flag int, knob, val string, r *uring.Ring) *fs.File {
	os.Setenv(knob, val)
	defer os.Unsetenv(knob)
	f, err := fs.OpenFile(path, flag, 0, fs.WithRing(r))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func benchRule(b *testing.B, n int, cold bool) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := benchDir()
	if cold {
		dir = directDir(b)
	}
	path := benchFile(b, dir)
	r := benchRing(b)
	fd := openFd(b, path, 0)
	wrap := func(c contender) contender {
		if !cold {
			return c
		}
		return contender{c.name, func(d time.Duration) (tally, error) {
			stop := keepCold(b, path)
			defer stop()
			return c.run(d)
		}}
	}
	cs := []contender{wrap(ringReaders(r, fd, n))}
	for _, v := range []string{"ring", "nowait", "sampled", "syscall"} {
		cs = append(cs, wrap(readerAts("fs-"+v, openRule(b, path, os.O_RDONLY, "URING_FS_READ", v, r), n)))
	}
	cs = append(cs, wrap(readerAts("os", openFile(b, path, 0), n)))
	t := compare(b, d, cs...)
	for i, name := range []string{"Do", "ring", "nowait", "sampled", "syscall"} {
		report(b, t[i].rate()/t[len(t)-1].rate(), fmt.Sprintf("%s-xOS", name))
	}
	if cold {
		b.Cleanup(func() { warmFile(b, path) })
	}
}

func BenchmarkRuleWarm64(b *testing.B) { benchRule(b, readWorkers, false) }
func BenchmarkRuleWarm1(b *testing.B)  { benchRule(b, 1, false) }
func BenchmarkRuleCold64(b *testing.B) { benchRule(b, readWorkers, true) }

type writerAt interface {
	WriteAt([]byte, int64) (int, error)
}

func writerAts(name string, f writerAt, n int, span int64) contender {
	return contender{fmt.Sprintf("%s.WriteAt x%d", name, n), func(d time.Duration) (tally, error) {
		return goLoop(n, d, func(i int) func() error {
			buf, rnd := alignedBlock(), newBenchRand(i+5000)
			return func() error {
				_, err := f.WriteAt(buf, rnd.block()%span)
				return err
			}
		})
	}}
}

func benchRuleWrite(b *testing.B, n int) {
	benchRequireRing(b)
	d := benchDuration(b)
	path := b.TempDir() + "/w"
	const span = 64 << 20
	if err := os.WriteFile(path, make([]byte, span), 0o644); err != nil {
		b.Fatal(err)
	}
	r := benchRing(b)
	var cs []contender
	for _, v := range []string{"ring", "syscall"} {
		cs = append(cs, writerAts("fs-"+v, openRule(b, path, os.O_RDWR, "URING_FS_WRITE", v, r), n, span))
	}
	of, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer of.Close()
	cs = append(cs, writerAts("os", of, n, span))
	t := compare(b, d, cs...)
	for i, name := range []string{"ring", "syscall"} {
		report(b, t[i].rate()/t[len(t)-1].rate(), fmt.Sprintf("%s-xOS", name))
	}
}

func BenchmarkRuleWrite64(b *testing.B) { benchRuleWrite(b, readWorkers) }
func BenchmarkRuleWrite1(b *testing.B)  { benchRuleWrite(b, 1) }

// Appends of 4 KiB then fdatasync every 16 (a WAL's shape), one goroutine.
func BenchmarkRuleAppendSync(b *testing.B) {
	benchRequireRing(b)
	d := benchDuration(b)
	dir := b.TempDir()
	r := benchRing(b)
	type appender interface {
		Write([]byte) (int, error)
		Sync() error
		Truncate(int64) error
		Seek(int64, int) (int64, error)
	}
	loop := func(name string, f appender) contender {
		return contender{name, func(d time.Duration) (tally, error) {
			buf := make([]byte, 4096)
			return goLoop(1, d, func(int) func() error {
				i := 0
				return func() error {
					if _, err := f.Write(buf); err != nil {
						return err
					}
					i++
					if i%16 == 0 {
						if err := f.Sync(); err != nil {
							return err
						}
					}
					if i%4096 == 0 { // keep the file at 16 MiB
						if err := f.Truncate(0); err != nil {
							return err
						}
						_, err := f.Seek(0, 0)
						return err
					}
					return nil
				}
			})
		}}
	}
	var cs []contender
	for _, v := range [][2]string{{"ring", "ring"}, {"ring", "syscall"}, {"syscall", "ring"}, {"syscall", "syscall"}} {
		os.Setenv("URING_FS_SYNC", v[1])
		f := openRule(b, dir+"/"+v[0]+v[1], os.O_RDWR|os.O_CREATE, "URING_FS_WRITE", v[0], r)
		os.Unsetenv("URING_FS_SYNC")
		cs = append(cs, loop("fs-w"+v[0]+"-s"+v[1], f))
	}
	of, err := os.OpenFile(dir+"/os", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer of.Close()
	cs = append(cs, loop("os", of))
	t := compare(b, d, cs...)
	for i, name := range []string{"wring-sring", "wring-ssys", "wsys-sring", "wsys-ssys"} {
		report(b, t[i].rate()/t[len(t)-1].rate(), fmt.Sprintf("%s-xOS", name))
	}
}
