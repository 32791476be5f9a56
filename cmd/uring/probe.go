package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

func init() {
	commands["probe"] = command{
		summary: "report whether io_uring works here, what the kernel has, and why not",
		run:     runProbe,
	}
}

// probeReport is what uring probe finds; --json prints it as is. Every field
// is always present, so that scripts need no existence checks.
type probeReport struct {
	Kernel       string                     `json:"kernel"` // uname release, or the OS where there is no Linux
	Usable       bool                       `json:"usable"` // a Ring can be created in this process
	Reason       string                     `json:"reason"` // why not, when !Usable
	Fix          string                     `json:"fix"`    // what to change, when !Usable and a fix is known
	Features     []string                   `json:"features"`
	Opcodes      map[string]bool            `json:"opcodes"`
	Capabilities map[string]probeCapability `json:"capabilities"`
	Memlock      probeMemlock               `json:"memlock"`

	opcodeOrder []string // Opcodes' keys by opcode number, for the table
}

// probeMemlock is what RLIMIT_MEMLOCK allows: the kernel charges each ring's
// memory to it for a user without CAP_IPC_LOCK, and New fits the default
// ring to it (fewer shards, then fewer entries).
type probeMemlock struct {
	LimitKiB int64 `json:"limit_kib"` // the soft limit; -1 unlimited
	Charged  bool  `json:"charged"`   // false: CAP_IPC_LOCK exempts this process
	Shards   int   `json:"shards"`    // of the default ring New made here
	Entries  int   `json:"entries"`   // SQ entries of each
	RingKiB  int   `json:"ring_kib"`  // charged per shard
}

// probeCapability is the outcome of trying one facility on a real ring.
type probeCapability struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// probeCapabilities are tried in this order; checkCapabilities knows each.
var probeCapabilities = []string{
	"sqpoll", "registered_buffers", "buffer_ring", "multishot_accept", "multishot_recv", "send_zc",
}

func runProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: uring probe [--json]")
		fmt.Fprintln(stderr, "Reports the kernel, whether io_uring can be used here (and if not, why and the fix),")
		fmt.Fprintln(stderr, "the ring's feature flags, every opcode's support and which facilities work.")
		fmt.Fprintln(stderr, "Exit status: 0 usable, 1 not usable, 2 bad flags.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "uring probe: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	rep := probe()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "uring probe:", err)
			return 1
		}
	} else {
		writeProbeTable(stdout, rep)
	}
	if !rep.Usable {
		return 1
	}
	return 0
}

// probe gathers the report. io_uring counts as usable when Available says so
// and New accepts the kernel too (New also insists on IORING_FEAT_NODROP).
func probe() *probeReport {
	rep := &probeReport{
		Kernel:       probeKernelRelease(),
		Features:     []string{},
		Opcodes:      map[string]bool{},
		Capabilities: map[string]probeCapability{},
	}
	// New probes the kernel on the ring it keeps, and every check below
	// shares that ring: under a small RLIMIT_MEMLOCK a ring per check would
	// not fit, as rings closed are still charged until the kernel tears them
	// down in the background.
	rep.Memlock = memlockReport()
	r, err := uring.New()
	if err != nil {
		rep.Reason, rep.Fix = diagnose(err)
		for _, name := range probeCapabilities {
			rep.Capabilities[name] = probeCapability{Error: "not tried: io_uring is not usable"}
		}
		return rep
	}
	rep.Usable = true
	rep.Features = append(rep.Features, r.Features().Names()...)

	p := r.Probe()
	last := max(ops.OpLast-1, p.LastOp) // the kernel may know opcodes ops does not name
	for op := ops.Opcode(0); ; op++ {
		name := op.String()
		rep.Opcodes[name] = p.Supports(op)
		rep.opcodeOrder = append(rep.opcodeOrder, name)
		if op == last {
			break
		}
	}

	rep.Memlock.Shards, rep.Memlock.Entries = r.Shards(), r.MaxBatch()
	rep.Memlock.RingKiB = ringKiB(r.MaxBatch())
	errs := checkCapabilities(r)
	r.Close()
	for _, name := range probeCapabilities {
		c := probeCapability{OK: true}
		if err := errs[name]; err != nil {
			c = probeCapability{Error: err.Error()}
		}
		rep.Capabilities[name] = c
	}
	return rep
}

// String says what the limit allows, for the table.
func (m probeMemlock) String() string {
	ring := fmt.Sprintf("%d shard(s) of %d entries, %d KiB each", m.Shards, m.Entries, m.RingKiB)
	switch {
	case !m.Charged:
		return "not charged (CAP_IPC_LOCK); the default ring: " + ring
	case m.LimitKiB < 0:
		return "RLIMIT_MEMLOCK unlimited; the default ring: " + ring
	}
	full := ringKiB(256)
	return fmt.Sprintf("RLIMIT_MEMLOCK %d KiB, charged for each ring: it holds %d ring(s) of 256 entries (%d KiB each); "+
		"the default ring fitted to it: %s", m.LimitKiB, m.LimitKiB/int64(full), full, ring)
}

// ringKiB is what the kernel charges for a ring of entries SQ entries and
// twice as many CQ entries: the SQ and CQ rings (a 64-byte header, 16 bytes
// per CQE, 4 per SQ index) and the SQE array (64 bytes each), each rounded
// up to pages.
func ringKiB(entries int) int {
	const page = 4096
	pages := func(n int) int { return (n + page - 1) / page }
	rings := (64+2*entries*16+63)&^63 + entries*4
	return (pages(rings) + pages(entries*64)) * page / 1024
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeProbeTable(w io.Writer, rep *probeReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "kernel\t%s\n", rep.Kernel)
	if !rep.Usable {
		fmt.Fprintf(tw, "io_uring\tNOT usable\n")
		fmt.Fprintf(tw, "reason\t%s\n", rep.Reason)
		if rep.Fix != "" {
			fmt.Fprintf(tw, "fix\t%s\n", rep.Fix)
		}
		tw.Flush()
		return
	}
	fmt.Fprintf(tw, "io_uring\tusable\n")
	fmt.Fprintf(tw, "locked memory\t%s\n", rep.Memlock)
	// Features, a few to a line.
	for i := 0; i < len(rep.Features); i += 6 {
		label := "features"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, strings.Join(rep.Features[i:min(i+6, len(rep.Features))], " "))
	}
	tw.Flush()

	fmt.Fprintln(w, "\ncapabilities")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range probeCapabilities {
		c := rep.Capabilities[name]
		if c.OK {
			fmt.Fprintf(tw, "  %s\tyes\n", name)
		} else {
			fmt.Fprintf(tw, "  %s\tno\t%s\n", name, c.Error)
		}
	}
	tw.Flush()

	n := 0
	for _, ok := range rep.Opcodes {
		if ok {
			n++
		}
	}
	fmt.Fprintf(w, "\nopcodes (%d of %d supported)\n", n, len(rep.opcodeOrder))
	// Three columns, numbered down each column like ls.
	const cols = 3
	rows := (len(rep.opcodeOrder) + cols - 1) / cols
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i < rows; i++ {
		var cells []string
		for c := 0; c < cols; c++ {
			if j := c*rows + i; j < len(rep.opcodeOrder) {
				name := rep.opcodeOrder[j]
				cells = append(cells, name+"\t"+yesNo(rep.Opcodes[name]))
			}
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t  "))
	}
	tw.Flush()
}
