// Command hashfiles prints the SHA-256 of every regular file under the
// directories it is given, reading many files at once: each worker reads
// with fs.ReadFile, whose reads go through io_uring (and through os where
// io_uring is unavailable).
//
//	go run ./examples/hashfiles [-workers N] DIR...
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	ufs "github.com/goaio/uring/fs"
)

func main() {
	workers := flag.Int("workers", 64, "files read at once")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: hashfiles [-workers N] DIR...")
		os.Exit(2)
	}
	sums, err := hashTree(flag.Args(), *workers)
	for _, s := range sums {
		fmt.Printf("%x  %s\n", s.sum, s.path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hashfiles:", err)
		os.Exit(1)
	}
}

type fileSum struct {
	path string
	sum  [sha256.Size]byte
}

// hashTree hashes every regular file under roots with n workers and returns
// the sums sorted by path, and the first error met.
func hashTree(roots []string, n int) ([]fileSum, error) {
	paths := make(chan string)
	var (
		mu       sync.Mutex
		sums     []fileSum
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for range max(n, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				data, err := ufs.ReadFile(p)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				sums = append(sums, fileSum{p, sha256.Sum256(data)})
				mu.Unlock()
			}
		}()
	}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				paths <- p
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
	}
	close(paths)
	wg.Wait()
	sort.Slice(sums, func(i, j int) bool { return sums[i].path < sums[j].path })
	return sums, firstErr
}
