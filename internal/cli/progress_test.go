package cli

import (
	"strings"
	"testing"
)

// TestProgressLines: with stderr not a terminal, progress is one plain line
// per analysed layer; with -q, nothing.
func TestProgressLines(t *testing.T) {
	dir := debianLayout(t)
	code, _, stderr := runMain(t, "image", dir, "--no-cache", "--scanners", "secret", "-f", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "layer 1/2 analysed (") || !strings.Contains(stderr, "layer 2/2 analysed (") {
		t.Errorf("progress lines missing: %q", stderr)
	}
	code, _, stderr = runMain(t, "image", dir, "--no-cache", "--scanners", "secret", "-f", "json", "-q")
	if code != ExitOK || stderr != "" {
		t.Errorf("-q: exit %d, stderr %q", code, stderr)
	}
}
