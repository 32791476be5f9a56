package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/goaio/uring/internal/loopback"
	"github.com/goaio/uring/loop"
	unet "github.com/goaio/uring/net"
)

func init() {
	commands["serve"] = command{
		summary: "run uring bench's servers standalone, for any load generator",
		run:     runServe,
	}
}

// helloWorld is every answer of serve's http server: 13 bytes, so
// "Content-Length: 13".
var helloWorld = []byte("hello, world\n")

// serveImpls are the listeners serve offers: this module's net, or std's.
// The third impl, "loop", is package loop's event loops (serveLoop).
var serveImpls = map[string]func(network, addr string) (net.Listener, error){
	"net": unet.Listen,
	"std": net.Listen,
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	proto := fs.String("proto", "echo", "what to serve: echo (bytes back as they come) or http (hello, world)")
	impl := fs.String("impl", "net", "whose server: loop (package loop's event loops), net (this module's listener) or std")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: uring serve [--proto echo|http] [--impl loop|net|std] [--addr ADDR]")
		fmt.Fprintln(stderr, "Serves until SIGINT or SIGTERM. The first line of output is \"listening on ADDR\".")
		fmt.Fprintln(stderr, "The http server answers every request, kept alive and pipelined ones in order,")
		fmt.Fprintln(stderr, "with 200 OK and the 13 bytes \"hello, world\\n\".")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "uring serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *proto, *impl, *addr, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "uring serve:", err)
		return 1
	}
	return 0
}

// serve listens on addr with impl's listener, prints where, and serves
// proto until ctx ends.
func serve(ctx context.Context, proto, impl, addr string, stdout, stderr io.Writer) error {
	if impl == "loop" {
		return serveLoop(ctx, proto, addr, stdout, stderr)
	}
	listen, ok := serveImpls[impl]
	if !ok {
		return fmt.Errorf("unknown --impl %q (loop, net, std)", impl)
	}
	var run func(net.Listener) error
	switch proto {
	case "echo":
		run = loopback.ServeEcho
	case "http":
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			_, _ = w.Write(helloWorld)
		})}
		run = srv.Serve
	default:
		return fmt.Errorf("unknown --proto %q (echo, http)", proto)
	}
	ln, err := listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- run(ln) }()
	select {
	case <-ctx.Done():
		ln.Close()
		<-done
		return nil
	case err := <-done:
		ln.Close()
		return err
	}
}

// serveLoop serves proto on package loop's event loops (GOMAXPROCS of
// them) until ctx ends. Where io_uring is unavailable the loops run on std
// net, and stderr says why.
func serveLoop(ctx context.Context, proto, addr string, stdout, stderr io.Writer) error {
	var h loop.Handler
	switch proto {
	case "echo":
		h = loopback.LoopEcho{}
	case "http":
		h = loopback.LoopHello{}
	default:
		return fmt.Errorf("unknown --proto %q (echo, http)", proto)
	}
	s, err := loop.Listen("tcp", addr, h)
	if err != nil {
		return err
	}
	if why := s.Group().Fallback(); why != nil {
		fmt.Fprintf(stderr, "uring serve: the loops run on std net: %v\n", why)
	}
	fmt.Fprintf(stdout, "listening on %s\n", s.Addr())
	<-ctx.Done()
	return s.Close()
}
