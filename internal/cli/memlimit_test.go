package cli

import (
	"context"
	"io"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: a command runs under the default soft memory limit, or
// the one --memory-limit-mb gives; the server's default grows with its
// scan workers.
func TestMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, c := range []struct {
		args []string
		mb   int64
	}{
		{[]string{"version"}, defaultMemoryLimitMB},
		{[]string{"--memory-limit-mb", "100", "version"}, 100},
	} {
		if code := Main(context.Background(), c.args, io.Discard, io.Discard); code != ExitOK {
			t.Fatalf("%v: exit %d", c.args, code)
		}
		if got := debug.SetMemoryLimit(-1); got != c.mb<<20 {
			t.Errorf("%v: memory limit %d MiB, want %d", c.args, got>>20, c.mb)
		}
	}
	if got := serverMemoryLimitMB(4); got != 5*defaultMemoryLimitMB {
		t.Errorf("server with 4 workers: %d MiB", got)
	}
}
