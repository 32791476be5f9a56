// Package stacks runs real network stacks on github.com/goaio/uring/net:
// gRPC, net/http over TLS with HTTP/2, h2c and httputil.ReverseProxy, each in
// four mixes of ring and std sockets (ring server and client, std server and
// client as the control, and the two crossings), with the bytes checked by
// their SHA-256 at both ends.
//
// It is a module of its own so that the library does not depend on gRPC;
// it has nothing but tests.
package stacks
