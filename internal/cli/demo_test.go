package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/customs-scanner/customs/internal/report"
)

// TestDemo runs the README's first command end to end and checks that the
// sample image yields what its README promises.
func TestDemo(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"demo", "--format", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r report.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Artifact.OS == nil || r.Artifact.OS.Family != "debian" || r.Artifact.OS.Version != "12" || len(r.Artifact.Layers) != 3 {
		t.Errorf("artifact %+v", r.Artifact)
	}
	want := map[string]bool{"CVE-2023-4911": false, "CVE-2023-5363": false, "user-root": false, "url-credentials": false}
	for _, f := range r.Findings {
		if _, ok := want[f.ID]; ok {
			want[f.ID] = true
		}
		if f.ID == "url-credentials" && (!f.RemovedInFinal || f.Path != "usr/src/app/.env" || f.LayerDiffID != r.Artifact.Layers[1].DiffID) {
			t.Errorf("secret finding %+v", f)
		}
	}
	for id, ok := range want {
		if !ok {
			t.Errorf("finding %s missing", id)
		}
	}
}
