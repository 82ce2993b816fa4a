package shadow

import (
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// TestAlpine: every account of Alpine's official minirootfs is locked, so
// nothing is reported; root given the password "letmein" as SHA-512 crypt
// (what Alpine's passwd writes; made here by openssl) in a later layer is
// found by the quick list.
func TestAlpine(t *testing.T) {
	requireCrypt(t)
	base := testimage.AlpineMinirootfs(t)
	stock := string(testimage.LayerFiles(t, base, func(p string) bool { return p == "etc/shadow" })["etc/shadow"].Body)
	if !strings.HasPrefix(stock, "root:") {
		t.Fatalf("minirootfs etc/shadow: %q", stock)
	}
	a := New(Options{Budget: slow, PerHash: slow, CPU: -1})
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, base), []analyzer.Analyzer{a})
	for _, f := range res.Findings {
		t.Errorf("stock Alpine: %s %s %s", f.ID, f.Path, f.Match)
	}

	out, err := exec.Command(testimage.RequireTool(t, "openssl"), "passwd", "-6", "letmein").Output()
	if err != nil {
		t.Fatalf("openssl passwd: %v", err)
	}
	fields := strings.Split(strings.SplitN(stock, "\n", 2)[0], ":")
	fields[1] = strings.TrimSpace(string(out))
	planted := strings.Join(fields, ":") + "\n" + strings.SplitN(stock, "\n", 2)[1]
	res = testimage.Scan(t, testimage.Image(t, v1.Config{}, base, testimage.Layer(t, testimage.File("etc/shadow", planted))),
		[]analyzer.Analyzer{New(Options{Budget: slow, PerHash: slow, CPU: -1})})
	weak, ok := byID(res.Findings)["shadow-weak-password"]["root"]
	if !ok || weak.Severity != model.Critical || weak.Extra["hash_scheme"] != "sha512crypt" || weak.Extra["guess_list"] != "quick" {
		t.Errorf("root's weak password: %+v (all: %v)", weak, res.Findings)
	}
}
