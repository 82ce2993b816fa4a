//go:build !linux

package shadow

import (
	"testing"
	"time"
)

// processCPU is not measured off Linux (the tests that use it need
// libxcrypt, so Linux, anyway).
func processCPU(*testing.T) time.Duration { return 0 }
