//go:build linux

package fs_test

import (
	"io"
	iofs "io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring/fs"
)

func makeTree(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	writeFile(t, filepath.Join(dir, "hello.txt"), []byte("hello, DirFS\n"))
	writeFile(t, filepath.Join(dir, "a", "one"), []byte("1"))
	writeFile(t, filepath.Join(dir, "a", "b", "big"), make([]byte, 300_000))
	writeFile(t, filepath.Join(dir, "a", "empty"), nil)
	return dir
}

func TestDirFS(t *testing.T) {
	dir := makeTree(t)
	require.NoError(t, fstest.TestFS(fs.DirFS(dir), "hello.txt", "a/one", "a/b/big", "a/empty"))
	require.NoError(t, fstest.TestFS(fs.DirFS(dir, fs.WithoutRing()), "hello.txt", "a/one"))

	// Errors name the path inside the FS, as os.DirFS's do.
	_, err := fs.DirFS(dir).Open("missing")
	_, want := os.DirFS(dir).Open("missing")
	require.Equal(t, want.Error(), err.Error())
	_, err = fs.DirFS(dir).Open("../escape")
	_, want = os.DirFS(dir).Open("../escape")
	require.Equal(t, want.Error(), err.Error())
}

func TestDirFSServesHTTP(t *testing.T) {
	dir := makeTree(t)
	srv := httptest.NewServer(http.FileServer(http.FS(fs.DirFS(dir))))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/hello.txt")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "hello, DirFS\n", string(body))

	req, _ := http.NewRequest("GET", srv.URL+"/a/b/big", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp2.Body.Close()
	body, _ = io.ReadAll(resp2.Body)
	require.Equal(t, http.StatusPartialContent, resp2.StatusCode)
	require.Len(t, body, 1000)
}

// Issue 25, defect 5: names inside the FS are os.DirFS's: Stat(".") is named
// ".", not after the directory, so fs.WalkDir starts at "."; every call's
// result and error match os.DirFS's, a trailing slash on the root and a NUL
// in the name included.
func TestDefect25DirFSNames(t *testing.T) {
	tree := makeTree(t)
	for _, dir := range []string{tree, tree + "/"} {
		ours, theirs := fs.DirFS(dir), os.DirFS(dir)
		walk := func(fsys iofs.FS) []string {
			var seen []string
			require.NoError(t, iofs.WalkDir(fsys, ".", func(p string, d iofs.DirEntry, err error) error {
				require.NoError(t, err)
				seen = append(seen, p+" "+d.Name())
				return nil
			}))
			return seen
		}
		require.Equal(t, walk(theirs), walk(ours), "WalkDir from %q", dir)
		for _, name := range []string{".", "a", "a/b", "hello.txt", "a/\x00", "missing", "a/../a"} {
			outcome := func(fsys iofs.FS) string {
				fi, err := iofs.Stat(fsys, name)
				if err != nil {
					return "error " + err.Error()
				}
				out := fi.Name()
				f, err := fsys.Open(name)
				if err != nil {
					return out + "; open error " + err.Error()
				}
				defer f.Close()
				st, err := f.Stat()
				if err != nil {
					return out + "; stat error " + err.Error()
				}
				return out + "; " + st.Name()
			}
			require.Equal(t, outcome(theirs), outcome(ours), "Stat/Open(%q) in %q", name, dir)
		}
	}
}
