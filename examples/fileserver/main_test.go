package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	unet "github.com/goaio/uring/net"
)

// The server answers with the files' bytes, 404 for a missing one, and
// stops with net.ErrClosed when its listener closes.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	body := []byte("<h1>served through io_uring</h1>")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "page.html"), body, 0o644))
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- serve(ln, dir) }()

	client := &http.Client{Transport: &http.Transport{DialContext: (&unet.Dialer{}).DialContext}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/page.html")
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, body, got)

	resp, err = client.Get("http://" + ln.Addr().String() + "/missing")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	client.CloseIdleConnections()
	require.NoError(t, ln.Close())
	require.True(t, errors.Is(<-done, net.ErrClosed))
}
