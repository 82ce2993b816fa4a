package server

import (
	"context"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/store"
)

// TestPruneHistory: the server's hourly prune removes the events and the
// logged verdicts older than KeepHistory, which the API then no longer
// lists, and keeps newer ones.
func TestPruneHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		cfg := newConfig(t.TempDir(), dsn)
		cfg.KeepHistory = time.Hour
		ts := startWith(t, cfg)
		ctx := context.Background()
		finding := []model.Finding{{Class: model.ClassSecret, ID: "aws-key", Severity: model.Critical}}
		if err := ts.store.AddEvents(ctx, 0, "scan:1", store.NewEvents("sha256:a", "app:1", store.EventNew, store.ReasonRescan, 0, finding)); err != nil {
			t.Fatal(err)
		}
		for _, age := range []time.Duration{2 * time.Hour, time.Minute} {
			if err := ts.store.LogVerdict(ctx, store.VerdictRecord{At: time.Now().Add(-age), Point: "cli", Image: "app:1", Digest: "sha256:a", Action: model.ActionDeny}); err != nil {
				t.Fatal(err)
			}
		}
		count := func() (events, verdicts int) {
			var ev struct {
				Events []store.Event `json:"events"`
			}
			var vs struct {
				Verdicts []store.VerdictRecord `json:"verdicts"`
			}
			if code := ts.call(t, "GET", "/api/v1/events", ts.read, nil, &ev); code != 200 {
				t.Fatalf("events: %d", code)
			}
			if code := ts.call(t, "GET", "/api/v1/verdicts", ts.read, nil, &vs); code != 200 {
				t.Fatalf("verdicts: %d", code)
			}
			return len(ev.Events), len(vs.Verdicts)
		}
		ts.prune(ctx)
		if e, v := count(); e != 1 || v != 1 {
			t.Errorf("after pruning to an hour: %d events, %d verdicts; want 1 and 1", e, v)
		}
		ts.cfg.KeepHistory = time.Nanosecond
		ts.prune(ctx)
		if e, v := count(); e != 0 || v != 0 {
			t.Errorf("after pruning everything: %d events, %d verdicts", e, v)
		}
	})
}
