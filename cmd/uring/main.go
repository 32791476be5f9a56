// Command uring answers the two questions a new user of the library asks:
// does io_uring work on this machine (uring probe), and is it faster for my
// workload (uring bench). uring cp copies a file with copy_file_range(2), as
// coreutils cp does; with --direct (O_DIRECT), with --ring, or where
// copy_file_range cannot copy the files, it reads and writes through the ring.
//
//	uring probe [--json]
//	uring bench [--duration D] [--rounds N] [--goroutines N] [--only CASE,...] [--dir DIR] [--size BYTES] [--json] [--plot FILE.svg]
//	uring cp [--direct] [--sync] [--ring] SRC DST
//	uring serve [--proto echo|http] [--impl net|std] [--addr ADDR]
//
// Install it with go install github.com/goaio/uring/cmd/uring@latest.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/goaio/uring/internal/loopback"
)

// command is one subcommand: run gets the arguments after its name and
// returns the exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by each subcommand's file.
var commands = map[string]command{}

func main() {
	loopback.ServeIfChild() // uring bench's servers are this binary, re-executed
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "uring: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: uring <command> [flags]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-6s %s\n", n, commands[n].summary)
	}
}
