package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/store"
)

// TestPruneHistory: the server's hourly prune removes the events and the
// logged verdicts older than KeepHistory, which the API then no longer
// lists, and keeps newer ones; it evicts the least recently used layers
// beyond LayerCacheMaxBytes.
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

		// The shared layer cache is kept to its size, least recently used
		// layers evicted first.
		for _, k := range []string{"old", "new"} {
			if err := ts.store.LayerCache().Put(ctx, strings.Repeat(k, 20), make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Millisecond)
		}
		ts.cfg.LayerCacheMaxBytes = 150
		ts.prune(ctx)
		st, err := ts.store.LayerCacheStats(ctx)
		_, kept, _ := ts.store.LayerCache().Get(ctx, strings.Repeat("new", 20))
		if err != nil || st.Entries != 1 || !kept {
			t.Errorf("layer cache after pruning to 150 bytes: %+v (%v), newest kept %v", st, err, kept)
		}
	})
}
