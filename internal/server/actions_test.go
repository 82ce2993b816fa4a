package server

import (
	"fmt"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
)

// TestScanListRetryOverview: GET /api/v1/scans lists scan jobs by status,
// POST /api/v1/scans/{id}/retry runs a finished one again, and GET
// /api/v1/overview counts what the scans found.
func TestScanListRetryOverview(t *testing.T) {
	reg := registry(t)
	ref := reg + "/team/overview:1"
	digest := push(t, ref, vulnerableImage(t, "overview"))
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		var queued ScanStatus
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &queued); code != 202 {
			t.Fatal(code)
		}
		ts.wait(t, queued.ID)
		var list struct {
			Scans []ScanStatus `json:"scans"`
		}
		if code := ts.call(t, "GET", "/api/v1/scans?status=succeeded", ts.read, nil, &list); code != 200 || len(list.Scans) != 1 ||
			list.Scans[0].ID != queued.ID || list.Scans[0].Digest != digest {
			t.Fatalf("succeeded scans: %d %+v", code, list)
		}
		if code := ts.call(t, "GET", "/api/v1/scans?status=failed", ts.read, nil, &list); code != 200 || len(list.Scans) != 0 {
			t.Errorf("failed scans: %d %+v", code, list)
		}
		if code := ts.call(t, "GET", "/api/v1/scans?status=lost", ts.read, nil, nil); code != 400 {
			t.Errorf("unknown status: %d", code)
		}
		if code := ts.call(t, "POST", fmt.Sprintf("/api/v1/scans/%d/retry", queued.ID), ts.read, nil, nil); code != 403 {
			t.Errorf("retry with a read token: %d", code)
		}
		var again ScanStatus
		if code := ts.call(t, "POST", fmt.Sprintf("/api/v1/scans/%d/retry", queued.ID), ts.admin, nil, &again); code != 200 || again.ID != queued.ID {
			t.Fatalf("retry: %d %+v", code, again)
		}
		if st := ts.wait(t, queued.ID); st.Status != StatusSucceeded {
			t.Fatalf("retried: %+v", st)
		}
		if code := ts.call(t, "POST", "/api/v1/scans/999999/retry", ts.admin, nil, nil); code != 404 {
			t.Errorf("retry of no scan: %d", code)
		}
		var o Overview
		if code := ts.call(t, "GET", "/api/v1/overview", ts.read, nil, &o); code != 200 {
			t.Fatal(code)
		}
		last := o.Trend[len(o.Trend)-1]
		if o.Images != 1 || len(o.Riskiest) != 1 || o.Riskiest[0].Digest != digest || o.Risk[model.ClassVulnerability][model.High]+o.Risk[model.ClassVulnerability][model.Critical] != 1 ||
			len(o.Trend) != 30 || last.BySeverity["HIGH"] == 0 || o.Trend[0].BySeverity["HIGH"] != 0 || len(o.Advisories) == 0 || o.Advisories[0].Images != 1 {
			t.Errorf("overview: %+v", o)
		}
	})
}
