package uring_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/goaio/uring"
)

func TestFeatureNames(t *testing.T) {
	for _, tc := range []struct {
		f    uring.Feature
		want []string
		str  string
	}{
		{0, nil, "0"},
		{uring.FeatNoDrop, []string{"nodrop"}, "nodrop"},
		{uring.FeatSingleMmap | uring.FeatFastPoll | uring.FeatNoIOWait,
			[]string{"single_mmap", "fast_poll", "no_iowait"}, "single_mmap|fast_poll|no_iowait"},
		{1 << 31, []string{"feat_31"}, "feat_31"},
	} {
		require.Equal(t, tc.want, tc.f.Names())
		require.Equal(t, tc.str, tc.f.String())
	}
	require.True(t, (uring.FeatNoDrop | uring.FeatExtArg).Has(uring.FeatNoDrop))
	require.False(t, uring.FeatNoDrop.Has(uring.FeatNoDrop|uring.FeatExtArg))
}

// A ring New accepted has NODROP (New refuses kernels without it), and every
// shard reports the same set as the first.
func TestRingFeatures(t *testing.T) {
	r := newRing(t, uring.WithShards(2))
	f := r.Features()
	require.True(t, f.Has(uring.FeatNoDrop|uring.FeatSingleMmap), "features %v", f)
	t.Logf("features: %v", f)
}
