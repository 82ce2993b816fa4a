package testimage

import (
	"fmt"
	"strings"
	"testing"
)

// recordTB records how a helper ends a test instead of ending it.
type recordTB struct {
	testing.TB
	ended []string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.ended = append(r.ended, "fatal: "+fmt.Sprintf(format, args...))
}
func (r *recordTB) Skip(args ...any) { r.ended = append(r.ended, "skip: "+fmt.Sprint(args...)) }

func TestMissingComponentFailsUnderCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "true")
	r := &recordTB{TB: t}
	RequireTool(r, "debootstrap")
	if len(r.ended) == 0 || !strings.HasPrefix(r.ended[0], "fatal: CI: debootstrap is not installed") {
		t.Errorf("under CI: %q", r.ended)
	}
	t.Setenv("CI", "")
	r = &recordTB{TB: t}
	RequireTool(r, "debootstrap")
	if len(r.ended) != 1 || !strings.HasPrefix(r.ended[0], "skip: debootstrap is not installed") {
		t.Errorf("outside CI: %q", r.ended)
	}
	t.Setenv("CI", "1")
	r = &recordTB{TB: t}
	unavailable(r, "debootstrap needs root")
	if len(r.ended) == 0 || r.ended[0] != "fatal: CI: debootstrap needs root" {
		t.Errorf("not root under CI: %q", r.ended)
	}
}
