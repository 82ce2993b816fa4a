package store

import (
	"context"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// TestPruneHistory: events and verdicts older than the cutoff go, newer
// ones stay, on both stores.
func TestPruneHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		finding := []model.Finding{{Class: model.ClassSecret, ID: "aws-key", Severity: model.Critical}}
		if err := s.AddEvents(ctx, 0, "scan:1", NewEvents("sha256:old", "", EventNew, ReasonRescan, 0, finding)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		cutoff := now()
		time.Sleep(5 * time.Millisecond)
		if err := s.AddEvents(ctx, 0, "scan:2", NewEvents("sha256:new", "", EventResolved, ReasonRescan, 0, finding)); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{cutoff.Add(-48 * time.Hour), cutoff.Add(-time.Millisecond), cutoff.Add(time.Millisecond)} {
			if err := s.LogVerdict(ctx, VerdictRecord{At: at, Point: "cli", Image: "app:1", Digest: "sha256:x", Action: model.ActionAllow}); err != nil {
				t.Fatal(err)
			}
		}
		events, verdicts, err := s.PruneHistory(ctx, cutoff)
		if err != nil || events != 1 || verdicts != 2 {
			t.Fatalf("pruned %d events and %d verdicts (%v), want 1 and 2", events, verdicts, err)
		}
		left, total, err := s.ListEvents(ctx, EventFilter{})
		if err != nil || total != 1 || left[0].Digest != "sha256:new" {
			t.Errorf("events left: %+v (%d, %v)", left, total, err)
		}
		vs, err := s.Verdicts(ctx, VerdictFilter{Limit: 10})
		if err != nil || len(vs) != 1 || vs[0].At.Before(cutoff) {
			t.Errorf("verdicts left: %+v (%v)", vs, err)
		}
		if events, verdicts, err = s.PruneHistory(ctx, cutoff); err != nil || events != 0 || verdicts != 0 {
			t.Errorf("second prune: %d events, %d verdicts, %v", events, verdicts, err)
		}
	})
}
