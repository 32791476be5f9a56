package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// runProbeJSON runs uring probe --json in this process and decodes the
// output, checking that every field is present.
func runProbeJSON(t *testing.T) (map[string]json.RawMessage, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run([]string{"probe", "--json"}, &stdout, &stderr)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &fields), "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	for _, f := range []string{"kernel", "usable", "reason", "fix", "features", "opcodes", "capabilities", "memlock"} {
		require.Contains(t, fields, f)
	}
	return fields, code
}

func TestProbeJSON(t *testing.T) {
	fields, code := runProbeJSON(t)
	var rep probeReport
	raw, err := json.Marshal(fields)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &rep))

	avail := uring.Available()
	require.Equal(t, avail == nil, rep.Usable, "usable must match uring.Available() = %v", avail)
	require.NotEmpty(t, rep.Kernel)
	require.NotNil(t, rep.Features)
	require.NotNil(t, rep.Opcodes)
	for _, name := range probeCapabilities {
		require.Contains(t, rep.Capabilities, name)
	}
	if avail != nil {
		require.Equal(t, 1, code)
		require.NotEmpty(t, rep.Reason)
		t.Skipf("io_uring unavailable here (%v): reason %q, fix %q", avail, rep.Reason, rep.Fix)
	}

	require.Equal(t, 0, code)
	require.Empty(t, rep.Reason)
	require.Contains(t, rep.Features, "nodrop") // New refuses kernels without it
	for op := ops.Opcode(0); op < ops.OpLast; op++ {
		require.Contains(t, rep.Opcodes, op.String())
	}
	require.True(t, rep.Opcodes["nop"])
	require.True(t, rep.Opcodes["read"])
	// Each capability either works or says why not; one that the kernel's
	// probe says exists must work.
	for name, c := range rep.Capabilities {
		require.True(t, c.OK != (c.Error != ""), "%s: %+v", name, c)
		t.Logf("%-18s ok=%v %s", name, c.OK, c.Error)
	}
	if rep.Opcodes["send_zc"] {
		require.True(t, rep.Capabilities["send_zc"].OK, "send_zc: %s", rep.Capabilities["send_zc"].Error)
	}
	require.True(t, rep.Capabilities["registered_buffers"].OK, rep.Capabilities["registered_buffers"].Error)
}

func TestProbeTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"probe"}, &stdout, &stderr)
	out := stdout.String()
	require.Contains(t, out, "kernel")
	if uring.Available() != nil {
		require.Equal(t, 1, code)
		require.Contains(t, out, "NOT usable")
		require.Contains(t, out, "reason")
		return
	}
	require.Equal(t, 0, code, "stderr: %s", &stderr)
	for _, want := range append([]string{"usable", "features", "nodrop", "capabilities", "opcodes", "read_fixed"}, probeCapabilities...) {
		require.Contains(t, out, want)
	}
	for _, line := range strings.Split(out, "\n") {
		require.Equal(t, strings.TrimRight(line, " "), line, "trailing spaces")
	}
}

func TestProbeBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"extra"}, {"--json=maybe"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 2, run(append([]string{"probe"}, args...), &stdout, &stderr), "%v", args)
		require.Empty(t, stdout.String())
		require.Contains(t, stderr.String(), "usage: uring probe")
	}
}

// TestProbeMemlockArithmetic: the charge per ring that uring probe and the
// README give, against what Linux 6.18 charged in TestDefect25Memlock64KiB
// (two rings of 256 entries and the 8 KiB probe ring fill 64 KiB exactly).
func TestProbeMemlockArithmetic(t *testing.T) {
	require.Equal(t, 28, ringKiB(256))
	require.Equal(t, 16, ringKiB(128))
	require.Equal(t, 8, ringKiB(64))
	require.Equal(t, 8, ringKiB(1))
	m := probeMemlock{LimitKiB: 64, Charged: true, Shards: 2, Entries: 256, RingKiB: 28}
	require.Contains(t, m.String(), "it holds 2 ring(s) of 256 entries")
	require.Contains(t, probeMemlock{Shards: 1, Entries: 256, RingKiB: 28}.String(), "not charged")
}
