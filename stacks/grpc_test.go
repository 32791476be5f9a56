//go:build linux

package stacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawCodec carries a *[]byte message as its bytes, so the service below is
// written by hand: no protoc, no generated code.
type rawCodec struct{}

func (rawCodec) Name() string { return "raw" }

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

// Unmarshal copies: gRPC recycles data once it returns.
func (rawCodec) Unmarshal(data []byte, v any) error {
	p := v.(*[]byte)
	*p = append((*p)[:0], data...)
	return nil
}

// echoServer is the service's state: what its handlers saw, for the tests
// to check.
type echoServer struct {
	waited      chan waitResult // Wait: how its context ended
	held        chan struct{}   // Hold: a call arrived
	release     chan struct{}   // Hold: closed to let the calls return
	streamEnded chan error      // Stream: its context's error when it failed
}

type waitResult struct {
	err         error
	hadDeadline bool
}

func newEchoServer() *echoServer {
	return &echoServer{
		waited:      make(chan waitResult, 1),
		held:        make(chan struct{}, 64),
		release:     make(chan struct{}),
		streamEnded: make(chan error, 1),
	}
}

// unaryHandler adapts f to a grpc.MethodDesc handler. No interceptors are
// installed, so the interceptor argument is always nil.
func unaryHandler(f func(s *echoServer, ctx context.Context, req []byte) ([]byte, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		resp, err := f(srv.(*echoServer), ctx, req)
		if err != nil {
			return nil, err
		}
		return &resp, nil
	}
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "stacks.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Echo", Handler: unaryHandler(func(_ *echoServer, _ context.Context, req []byte) ([]byte, error) {
			return req, nil
		})},
		// Wait returns when its context ends: at the deadline.
		{MethodName: "Wait", Handler: unaryHandler(func(s *echoServer, ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			_, ok := ctx.Deadline()
			s.waited <- waitResult{ctx.Err(), ok}
			return nil, status.FromContextError(ctx.Err()).Err()
		})},
		// Hold echoes once the test releases it.
		{MethodName: "Hold", Handler: unaryHandler(func(s *echoServer, ctx context.Context, req []byte) ([]byte, error) {
			s.held <- struct{}{}
			select {
			case <-s.release:
				return req, nil
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			}
		})},
	},
	Streams: []grpc.StreamDesc{{
		// Stream echoes every message and, at the client's end, sends the
		// SHA-256 of all it received as the trailer "sha256".
		StreamName:    "Stream",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			s := srv.(*echoServer)
			h := sha256.New()
			for {
				var msg []byte // new each time: a sent message must not change
				err := stream.RecvMsg(&msg)
				if err == io.EOF {
					stream.SetTrailer(metadata.Pairs("sha256", hex.EncodeToString(h.Sum(nil))))
					return nil
				}
				if err == nil {
					h.Write(msg)
					err = stream.SendMsg(&msg)
				}
				if err != nil {
					s.streamEnded <- stream.Context().Err()
					return err
				}
			}
		},
	}},
}

// startGRPC serves echoDesc on m's server side and connects to it from m's
// client side.
func startGRPC(t *testing.T, m mix) (*echoServer, *grpc.Server, *grpc.ClientConn) {
	ln := m.server.listen(t)
	es := newEchoServer()
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&echoDesc, es)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		require.NoError(t, <-served)
	})
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return m.client.dial(ctx, "tcp", addr)
		}),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return es, srv, cc
}

func echo(ctx context.Context, cc *grpc.ClientConn, method string, req []byte) ([]byte, error) {
	var resp []byte
	err := cc.Invoke(ctx, "/stacks.Echo/"+method, &req, &resp)
	return resp, err
}

func TestGRPC(t *testing.T) {
	forEachMix(t, func(t *testing.T, m mix) {
		t.Run("unary from many goroutines", func(t *testing.T) {
			_, _, cc := startGRPC(t, m)
			goroutines, calls := 32, 50
			if raceEnabled {
				calls = 10
			}
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range calls {
						seed := uint64(g*calls + i)
						req := randomBytes(seed, int(seed*7919%(64<<10)))
						resp, err := echo(context.Background(), cc, "Echo", req)
						if err != nil {
							t.Errorf("call %d: %v", seed, err)
							return
						}
						if sum(resp) != sum(req) {
							t.Errorf("call %d: %d bytes sent, %d back, hashes differ", seed, len(req), len(resp))
						}
					}
				})
			}
			wg.Wait()
		})

		t.Run("bidirectional stream", func(t *testing.T) {
			_, _, cc := startGRPC(t, m)
			const chunk = 256 << 10
			chunks := 128 // 32 MiB each way
			if raceEnabled {
				chunks = 32
			}
			stream, err := cc.NewStream(context.Background(), &echoDesc.Streams[0], "/stacks.Echo/Stream")
			require.NoError(t, err)
			sent := make(chan string, 1)
			go func() {
				h := sha256.New()
				for i := range chunks {
					msg := randomBytes(uint64(i), chunk)
					h.Write(msg)
					if err := stream.SendMsg(&msg); err != nil {
						t.Errorf("send %d: %v", i, err)
						break
					}
				}
				if err := stream.CloseSend(); err != nil {
					t.Errorf("close send: %v", err)
				}
				sent <- hex.EncodeToString(h.Sum(nil))
			}()
			h, n := sha256.New(), 0
			for {
				var msg []byte
				err := stream.RecvMsg(&msg)
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				h.Write(msg)
				n += len(msg)
			}
			want := <-sent
			require.Equal(t, chunks*chunk, n, "bytes echoed")
			require.Equal(t, want, hex.EncodeToString(h.Sum(nil)), "what came back")
			require.Equal(t, []string{want}, stream.Trailer()["sha256"], "what the server received")
		})

		t.Run("deadline expires server-side", func(t *testing.T) {
			es, _, cc := startGRPC(t, m)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := echo(ctx, cc, "Wait", []byte("x"))
			require.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)
			got := <-es.waited
			require.True(t, got.hadDeadline, "the client's deadline reached the handler")
			// Whichever comes first: the server's own timer or the
			// client's reset when its timer fired.
			require.Error(t, got.err)
		})

		t.Run("client cancels mid-stream", func(t *testing.T) {
			es, _, cc := startGRPC(t, m)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := cc.NewStream(ctx, &echoDesc.Streams[0], "/stacks.Echo/Stream")
			require.NoError(t, err)
			msg := randomBytes(1, 1<<10)
			require.NoError(t, stream.SendMsg(&msg))
			var back []byte
			require.NoError(t, stream.RecvMsg(&back)) // the handler is mid-stream now
			require.Equal(t, sum(msg), sum(back))
			cancel()
			err = stream.RecvMsg(&back)
			require.Equal(t, codes.Canceled, status.Code(err), "%v", err)
			require.ErrorIs(t, <-es.streamEnded, context.Canceled, "the handler's context")
		})

		t.Run("GracefulStop with calls in flight", func(t *testing.T) {
			es, srv, cc := startGRPC(t, m)
			const inFlight = 8
			results := make(chan error, inFlight)
			for i := range inFlight {
				go func() {
					req := randomBytes(uint64(i), 4<<10)
					resp, err := echo(context.Background(), cc, "Hold", req)
					if err == nil && sum(resp) != sum(req) {
						err = errors.New("echo differs")
					}
					results <- err
				}()
			}
			for range inFlight {
				<-es.held
			}
			stopped := make(chan struct{})
			go func() {
				srv.GracefulStop()
				close(stopped)
			}()
			// The client leaves Ready on the server's GOAWAY; a call after
			// that has no server: the listener is closed and the old
			// connection takes no new streams.
			for s := cc.GetState(); s == connectivity.Ready; s = cc.GetState() {
				cc.WaitForStateChange(context.Background(), s)
			}
			_, err := echo(context.Background(), cc, "Echo", []byte("late"))
			require.Equal(t, codes.Unavailable, status.Code(err), "a call after GracefulStop: %v", err)
			select {
			case <-stopped:
				t.Fatal("GracefulStop returned with calls in flight")
			default:
			}
			close(es.release)
			for range inFlight {
				require.NoError(t, <-results, "a call in flight")
			}
			<-stopped
		})
	})
}
