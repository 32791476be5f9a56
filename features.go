package uring

import (
	"strconv"
	"strings"
)

// Feature is a set of IORING_FEAT_* flags: what the kernel reported about
// itself when a ring was set up (io_uring_params.features).
type Feature uint32

// The kernel's feature flags (include/uapi/linux/io_uring.h), with the Linux
// release that added each. Flags past liburing 2.3's header are listed too:
// the kernel reports them whether or not the header knows their names.
const (
	FeatSingleMmap     Feature = 1 << 0  // 5.4: SQ and CQ rings share one mmap
	FeatNoDrop         Feature = 1 << 1  // 5.5: completions are never dropped on CQ overflow
	FeatSubmitStable   Feature = 1 << 2  // 5.5: SQE data is consumed at submission
	FeatRWCurPos       Feature = 1 << 3  // 5.6: offset -1 reads and writes at the file position
	FeatCurPersonality Feature = 1 << 4  // 5.6: requests run with the submitter's credentials
	FeatFastPoll       Feature = 1 << 5  // 5.7: internal polling instead of async workers for sockets
	FeatPoll32Bits     Feature = 1 << 6  // 5.9: 32-bit poll masks
	FeatSQPollNonFixed Feature = 1 << 7  // 5.11: SQPOLL without registered files
	FeatExtArg         Feature = 1 << 8  // 5.11: io_uring_enter takes a timeout argument
	FeatNativeWorkers  Feature = 1 << 9  // 5.12: async workers are threads of the submitter
	FeatRsrcTags       Feature = 1 << 10 // 5.13: tagged registered resources
	FeatCQESkip        Feature = 1 << 11 // 5.17: IOSQE_CQE_SKIP_SUCCESS
	FeatLinkedFile     Feature = 1 << 12 // 5.17: linked requests open their files in order
	FeatRegRegRing     Feature = 1 << 13 // 6.3: io_uring_register on a registered ring fd
	FeatRecvSendBundle Feature = 1 << 14 // 6.10: bundled send and receive
	FeatMinTimeout     Feature = 1 << 15 // 6.12: minimum wait timeouts
	FeatRWAttr         Feature = 1 << 16 // 6.14: read/write attributes (integrity data)
	FeatNoIOWait       Feature = 1 << 17 // 6.15: waiting need not count as iowait
	featKnown                  = 18      // flags below 1<<featKnown have names
)

var featureNames = [featKnown]string{
	"single_mmap", "nodrop", "submit_stable", "rw_cur_pos", "cur_personality", "fast_poll",
	"poll_32bits", "sqpoll_nonfixed", "ext_arg", "native_workers", "rsrc_tags", "cqe_skip",
	"linked_file", "reg_reg_ring", "recvsend_bundle", "min_timeout", "rw_attr", "no_iowait",
}

// Names returns the name of each flag in f, lowest bit first: the
// IORING_FEAT_ suffix in lower case ("nodrop", "fast_poll"), or "feat_N" for
// bit N when this package does not know it.
func (f Feature) Names() []string {
	var names []string
	for bit := 0; bit < 32; bit++ {
		if f&(1<<bit) == 0 {
			continue
		}
		if bit < featKnown {
			names = append(names, featureNames[bit])
		} else {
			names = append(names, "feat_"+strconv.Itoa(bit))
		}
	}
	return names
}

// String returns the flags' names joined by "|", or "0" for none.
func (f Feature) String() string {
	if f == 0 {
		return "0"
	}
	return strings.Join(f.Names(), "|")
}

// Has reports whether every flag in want is set in f.
func (f Feature) Has(want Feature) bool { return f&want == want }

// Features returns the feature flags the kernel reported when the Ring's
// first shard was set up. Every shard of a Ring runs on the same kernel, so
// they all report the same set.
func (r *Ring) Features() Feature { return Feature(r.shards[0].k.features) }
