package loop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No test leaves a goroutine behind: a closed Group or Server has ended
// every loop and connection goroutine.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
