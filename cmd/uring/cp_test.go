package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cpRun runs uring cp in this process and returns its exit status and
// stderr; stdout must stay empty.
func cpRun(t testing.TB, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"cp"}, args...), &stdout, &stderr)
	require.Empty(t, stdout.String())
	return code, stderr.String()
}

// writeFile creates name with data and mode (chmod after creation, so the
// umask does not interfere).
func writeFile(t testing.TB, name string, data []byte, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(name, data, 0o600))
	require.NoError(t, os.Chmod(name, mode))
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// requireSameContent compares two files chunk by chunk (the 1 GiB one
// included), naming the first offset that differs.
func requireSameContent(t testing.TB, want, got string) {
	t.Helper()
	a, err := os.Open(want)
	require.NoError(t, err)
	defer a.Close()
	b, err := os.Open(got)
	require.NoError(t, err)
	defer b.Close()
	ai, err := a.Stat()
	require.NoError(t, err)
	bi, err := b.Stat()
	require.NoError(t, err)
	require.Equal(t, ai.Size(), bi.Size(), "size of %s", got)
	ba, bb := make([]byte, 4<<20), make([]byte, 4<<20)
	for off := int64(0); ; {
		na, ea := io.ReadFull(a, ba)
		nb, _ := io.ReadFull(b, bb)
		require.Equal(t, na, nb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			i := 0
			for ba[i] == bb[i] {
				i++
			}
			t.Fatalf("%s differs from %s at byte %d", got, want, off+int64(i))
		}
		off += int64(na)
		if ea != nil {
			return
		}
	}
}

// cpReference copies src with coreutils cp (the reference for modes) to a
// fresh path and returns it, or "" where there is no cp.
func cpReference(t testing.TB, src string) string {
	t.Helper()
	path, err := exec.LookPath("cp")
	if err != nil || runtime.GOOS == "windows" {
		return ""
	}
	ref := filepath.Join(t.TempDir(), "ref")
	out, err := exec.Command(path, src, ref).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return ref
}

func requireMode(t testing.TB, want os.FileMode, got string) {
	t.Helper()
	fi, err := os.Stat(got)
	require.NoError(t, err)
	require.Equal(t, want.String(), fi.Mode().String(), "mode of %s", got)
}

// cpVariants are the flag sets every file is copied with; --direct only
// where O_DIRECT exists.
func cpVariants() [][]string {
	v := [][]string{nil, {"--sync"}, {"--ring"}, {"--ring", "--sync"}} // copy_file_range, and the ring pipeline
	if directFlag != 0 {
		v = append(v, []string{"--direct"}, []string{"--direct", "--sync"})
	}
	return v
}

// TestCpFiles copies files of several sizes and modes with each flag set and
// compares content and mode with the source and with coreutils cp's copy.
func TestCpFiles(t *testing.T) {
	files := []struct {
		name string
		size int
		mode os.FileMode
	}{
		{"empty", 0, 0o644},
		{"byte", 1, 0o600},
		{"small", 4097, 0o755},
		{"setuid", 100, 0o755 | os.ModeSetuid}, // cp drops it without -p
		{"readonly", 12345, 0o400},
		{"chunks", 3*cpChunk + 123, 0o640},        // several spans and an unaligned tail
		{"depth", (cpDepth + 3) * cpChunk, 0o644}, // more spans than buffers, aligned end
		{"tail", (cpDepth+1)*cpChunk - 1, 0o666},  // a short last span
	}
	for _, ring := range []bool{true, false} {
		for _, f := range files {
			for _, flags := range cpVariants() {
				name := f.name + "/" + strings.Join(append([]string{"plain"}, flags...), "")
				if !ring {
					name = "noring/" + name
				}
				t.Run(name, func(t *testing.T) {
					if !ring {
						cpWithoutRing = true
						t.Cleanup(func() { cpWithoutRing = false })
					}
					dir := t.TempDir()
					src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
					writeFile(t, src, randomBytes(f.size, uint64(f.size)), f.mode)
					code, stderr := cpRun(t, append(flags, src, dst)...)
					if code != 0 && strings.Contains(stderr, "Invalid argument") && len(flags) > 0 && flags[0] == "--direct" {
						t.Skipf("this file system refuses O_DIRECT: %s", stderr)
					}
					require.Equal(t, 0, code, "stderr: %s", stderr)
					require.Empty(t, stderr, "no progress bar when stderr is not a terminal")
					requireSameContent(t, src, dst)
					if ref := cpReference(t, src); ref != "" {
						fi, err := os.Stat(ref)
						require.NoError(t, err)
						requireMode(t, fi.Mode(), dst)
					}
				})
			}
		}
	}
}

// TestCpExistingDestination: cp truncates an existing file and keeps its
// mode; a directory destination receives a file of the source's name.
func TestCpExistingDestination(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeFile(t, src, randomBytes(1000, 1), 0o755)
	writeFile(t, dst, randomBytes(3*cpChunk, 2), 0o600)
	code, stderr := cpRun(t, src, dst)
	require.Equal(t, 0, code, stderr)
	requireSameContent(t, src, dst)
	if runtime.GOOS != "windows" {
		requireMode(t, 0o600, dst)
	}

	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	code, stderr = cpRun(t, "--sync", src, sub) // flags before and after operands
	require.Equal(t, 0, code, stderr)
	requireSameContent(t, src, filepath.Join(sub, "src"))
	code, stderr = cpRun(t, src, sub, "--sync")
	require.Equal(t, 0, code, stderr)
}

// TestCpErrors: each failure exits 1 with cp's wording and the path named.
func TestCpErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, []byte("data"), 0o644)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		want  []string // substrings of stderr
		errno string   // strerror text, checked on Linux
	}{
		{"missing source", []string{missing, filepath.Join(dir, "out")}, 1,
			[]string{"uring cp: cannot stat '" + missing + "'"}, "No such file or directory"},
		{"directory source", []string{dir, filepath.Join(dir, "out")}, 1,
			[]string{"uring cp: ", "omitting directory '" + dir + "'"}, ""},
		// Tests run as root, so a directory without write permission would
		// not stop them: a path under a regular file fails for everyone.
		{"destination under a file", []string{file, filepath.Join(file, "x")}, 1,
			[]string{"uring cp: cannot stat '" + filepath.Join(file, "x") + "'"}, "Not a directory"},
		{"destination in a missing directory", []string{file, filepath.Join(missing, "x")}, 1,
			[]string{"uring cp: cannot create regular file '" + filepath.Join(missing, "x") + "'"}, "No such file or directory"},
		{"same file", []string{file, file}, 1,
			[]string{"uring cp: '" + file + "' and '" + file + "' are the same file"}, ""},
		{"one operand", []string{file}, 2, []string{"missing file operand", "usage: uring cp"}, ""},
		{"three operands", []string{file, file, file}, 2, []string{"too many operands"}, ""},
		{"unknown flag", []string{"--bogus", file, missing}, 2, []string{"-bogus"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := cpRun(t, tc.args...)
			require.Equal(t, tc.code, code, "stderr: %s", stderr)
			for _, w := range tc.want {
				require.Contains(t, stderr, w)
			}
			if tc.errno != "" && runtime.GOOS == "linux" {
				require.True(t, strings.HasSuffix(stderr, ": "+tc.errno+"\n"), "stderr: %q", stderr)
			}
		})
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "data", string(b), "the same-file refusal left the source alone")
	_, err = os.Stat(filepath.Join(dir, "out"))
	require.ErrorIs(t, err, os.ErrNotExist, "no destination after a failed copy")
}

// makeBigFile writes size bytes whose every 4 KiB block carries its offset,
// so a block copied to the wrong place shows.
func makeBigFile(t testing.TB, name string, size int64) {
	t.Helper()
	f, err := os.Create(name)
	require.NoError(t, err)
	block := randomBytes(4<<20, 42)
	for off := int64(0); off < size; off += int64(len(block)) {
		for i := 0; i < len(block); i += 4096 {
			binary.LittleEndian.PutUint64(block[i:], uint64(off)+uint64(i))
		}
		n := min(int64(len(block)), size-off)
		_, err := f.Write(block[:n])
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
}

// TestCp1GiB copies a 1 GiB file and checks it byte for byte. The timing
// comparison with cp is BenchmarkCp1GiB's job.
func TestCp1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: writing and comparing 1 GiB takes seconds")
	}
	if cpRace {
		t.Skip("-race: the race detector makes the 1 GiB copy and comparison take minutes; the smaller files cover the same paths")
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeBigFile(t, src, 1<<30)
	start := time.Now()
	code, stderr := cpRun(t, src, dst)
	require.Equal(t, 0, code, stderr)
	t.Logf("uring cp: 1 GiB in %v", time.Since(start).Round(time.Millisecond))
	requireSameContent(t, src, dst)
}

// BenchmarkCp1GiB copies the same 1 GiB file (in the page cache) with uring
// cp and with coreutils cp, alternately, and reports cp's time over ours:
// above 1, uring cp is the faster.
func BenchmarkCp1GiB(b *testing.B) {
	cpPath, err := exec.LookPath("cp")
	if err != nil {
		b.Skip("no coreutils cp to compare with")
	}
	dir := b.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	makeBigFile(b, src, 1<<30)
	var ours, theirs time.Duration
	b.SetBytes(1 << 30)
	b.ResetTimer()
	for range b.N {
		os.Remove(dst)
		start := time.Now()
		if code, stderr := cpRun(b, src, dst); code != 0 {
			b.Fatal(stderr)
		}
		ours += time.Since(start)

		b.StopTimer()
		os.Remove(dst)
		start = time.Now()
		if out, err := exec.Command(cpPath, src, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v: %s", err, out)
		}
		theirs += time.Since(start)
		os.Remove(dst)
		b.StartTimer()
	}
	b.ReportMetric(float64(theirs)/float64(ours), "cp/uring")
	b.ReportMetric(float64(int64(b.N)<<30)/theirs.Seconds()/1e6, "cp-MB/s")
}
