package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

// uring bench --duration 1s --only nop,randread --json: every field of the
// report is there and means something; --plot writes an SVG naming the
// cases; where io_uring is unavailable the std side runs alone.
func TestBenchJSON(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "ratios.svg")
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--duration", "1s", "--rounds", "1", "--only", "nop,randread",
		"--size", "16777216", "--goroutines", "8", "--json", "--plot", svg}, &out, &errb)
	require.Equal(t, 0, code, "stderr: %s", errb.String())

	var raw map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &raw), out.String())
	for _, k := range []string{"kernel", "go_version", "cpus", "uring", "dir", "size_bytes", "rounds", "cases"} {
		require.Contains(t, raw, k)
	}
	var rep benchReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, int64(16777216), rep.SizeBytes)
	require.Len(t, rep.Cases, 2)
	require.Equal(t, "nop", rep.Cases[0].Case)
	require.Equal(t, "randread", rep.Cases[1].Case)
	available := uring.Available() == nil
	require.Equal(t, available, rep.Uring)
	if !available {
		require.NotEmpty(t, rep.Unavailable)
		require.Contains(t, errb.String(), "standard library side only")
	}
	cases := raw["cases"].([]any)
	for i, c := range rep.Cases {
		rc := cases[i].(map[string]any)
		for _, k := range []string{"case", "what", "std", "ratio", "ratio_low", "ratio_high", "goroutines", "duration_sec"} {
			require.Contains(t, rc, k, "case %s", c.Case)
		}
		require.Empty(t, c.Skipped)
		sides := []*sideResult{c.Std}
		if available {
			require.NotNil(t, c.Uring, "case %s", c.Case)
			sides = append(sides, c.Uring)
			require.Greater(t, c.Ratio, 0.0)
			require.LessOrEqual(t, c.RatioLow, c.Ratio)
			require.GreaterOrEqual(t, c.RatioHigh, c.Ratio)
			side := rc["uring"].(map[string]any)
			for _, k := range []string{"ops_per_sec", "spread", "rounds", "cpu_per_op_ns", "p50_ns", "p99_ns", "threads", "read_bytes_per_op", "unit"} {
				require.Contains(t, side, k)
			}
		} else {
			require.Nil(t, c.Uring)
		}
		for _, s := range sides {
			require.Empty(t, s.Error)
			require.Greater(t, s.OpsPerSec, 0.0, "case %s", c.Case)
			require.Len(t, s.Rounds, 1)
			require.Greater(t, s.P50Ns, 0.0)
			require.GreaterOrEqual(t, s.P99Ns, s.P50Ns)
			require.Greater(t, s.CPUPerOpNs, 0.0)
			require.Equal(t, "op", s.Unit)
		}
	}
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "<svg"))
	if available {
		require.Contains(t, string(b), ">nop<")
		require.Contains(t, string(b), ">randread<")
	}
}

// The table names every case and the ratio column.
func TestBenchTable(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--duration", "200ms", "--rounds", "1", "--only", "nop", "--size", "65536"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "ratio")
	require.Contains(t, out.String(), "nop")
}

func TestBenchHelp(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"bench", "-h"}, &out, &errb))
	require.Contains(t, errb.String(), "-duration")
}

func TestBenchBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--only", "nosuchcase"},
		{"bench", "--duration", "0s"},
		{"bench", "extra"},
		{"bench", "--nosuchflag"},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, 2, run(args, &out, &errb), "%v", args)
		require.NotEmpty(t, errb.String())
	}
}

// Issue 25, defect 9: --only takes the list as a shell user writes it: a
// trailing comma, spaces and a repeated name select what they name; a list
// of no names and an unknown name are refused.
func TestDefect25BenchOnlyList(t *testing.T) {
	names := func(only string) ([]string, error) {
		cs, err := selectCases(only)
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		return out, err
	}
	for only, want := range map[string][]string{
		"nop,":              {"nop"},
		" nop , randread ,": {"nop", "randread"},
		"nop,nop,randread":  {"nop", "randread"},
		"randread,,direct":  {"randread", "direct"},
	} {
		got, err := names(only)
		require.NoError(t, err, "--only %q", only)
		require.Equal(t, want, got, "--only %q", only)
	}
	for _, only := range []string{",", " , ", "nop,bogus"} {
		_, err := names(only)
		require.Error(t, err, "--only %q", only)
	}
}

// The loop cases: loop-nop and loop-randread run their ops on package
// loop's loops, and report the loops' rate under uring.ops_per_sec with no
// latency figures (the goroutines only counted).
func TestBenchLoopCases(t *testing.T) {
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--duration", "300ms", "--rounds", "1", "--only", "loop-nop,loop-randread",
		"--size", "16777216", "--json"}, &out, &errb)
	require.Equal(t, 0, code, "stderr: %s", errb.String())
	var rep benchReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Len(t, rep.Cases, 2)
	for i, name := range []string{"loop-nop", "loop-randread"} {
		c := rep.Cases[i]
		require.Equal(t, name, c.Case)
		require.NotNil(t, c.Uring)
		require.Greater(t, c.Uring.OpsPerSec, 0.0, name)
		require.Greater(t, c.Std.OpsPerSec, 0.0, name)
		require.Zero(t, c.Uring.P50Ns, "%s: the loop side has no latency", name)
		require.NotZero(t, c.Std.P50Ns, name)
	}
}
