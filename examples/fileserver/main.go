// Command fileserver serves a directory over HTTP with io_uring end to end:
// connections are accepted, read and written through this module's net
// package, and files are read through its fs package.
//
//	go run ./examples/fileserver [-addr :8080] [DIR]
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	ufs "github.com/goaio/uring/fs"
	unet "github.com/goaio/uring/net"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	dir := "."
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	ln, err := unet.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving %s on http://%s/", dir, ln.Addr())
	log.Fatal(serve(ln, dir))
}

// serve serves dir on ln until the listener fails.
func serve(ln net.Listener, dir string) error {
	return http.Serve(ln, http.FileServer(http.FS(ufs.DirFS(dir))))
}
