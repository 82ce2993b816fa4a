package store

import (
	"context"
	"strings"
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

// TestPruneLayerCache: the least recently used layers go first, until the
// rest fit; a layer read lately stays.
func TestPruneLayerCache(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		lc := s.LayerCache()
		key := func(c byte) string { return strings.Repeat(string(c), 64) }
		for _, c := range []byte("abc") {
			if err := lc.Put(ctx, key(c), make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Millisecond)
		}
		if _, ok, err := lc.Get(ctx, key('a')); !ok || err != nil {
			t.Fatalf("get a: %v %v", ok, err)
		}
		entries, bytes, err := s.PruneLayerCache(ctx, 250)
		if err != nil || entries != 1 || bytes != 100 {
			t.Fatalf("pruned %d entries, %d bytes (%v); want b alone", entries, bytes, err)
		}
		for c, want := range map[byte]bool{'a': true, 'b': false, 'c': true} {
			if _, ok, err := lc.Get(ctx, key(c)); ok != want || err != nil {
				t.Errorf("%c: cached %v (%v), want %v", c, ok, err, want)
			}
		}
		if entries, _, err := s.PruneLayerCache(ctx, 1000); entries != 0 || err != nil {
			t.Errorf("under the budget: pruned %d (%v)", entries, err)
		}
		if entries, bytes, err := s.PruneLayerCache(ctx, 0); entries != 2 || bytes != 200 || err != nil {
			t.Errorf("budget 0: pruned %d entries, %d bytes (%v)", entries, bytes, err)
		}
	})
}
