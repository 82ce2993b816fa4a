package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRegistries(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		due := time.Now().Add(-time.Second)
		a := &Registry{URL: "registry.example.com", Repositories: []string{"team/*"}, Schedule: "@every 1h", Secret: []byte{1, 2, 3}}
		idA, err := s.SaveRegistry(ctx, a, due)
		if err != nil {
			t.Fatal(err)
		}
		idB, err := s.SaveRegistry(ctx, &Registry{URL: "127.0.0.1:5000", PlainHTTP: true, Latest: 3}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Registry(ctx, idA)
		if err != nil || got.URL != a.URL || !got.HasCredentials || !slices.Equal(got.Repositories, a.Repositories) || got.Tags == nil ||
			got.NextSweep == nil || got.LastSweep != nil || got.Created.IsZero() {
			t.Fatalf("registry %d: %+v %v", idA, got, err)
		}
		if b, err := s.Registry(ctx, idB); err != nil || b.HasCredentials || !b.PlainHTTP || b.Latest != 3 || b.NextSweep != nil {
			t.Errorf("registry %d: %+v %v", idB, b, err)
		}
		list, err := s.DueRegistries(ctx, time.Now())
		if err != nil || len(list) != 1 || list[0].ID != idA {
			t.Errorf("due: %+v %v", list, err)
		}

		// A sweep moves the next one on; nil audit keeps the last.
		fin := time.Now()
		if err := s.RecordSweep(ctx, idA, SweepRecord{Finished: fin, Next: fin.Add(time.Hour), Audit: []byte(`{"findings":[]}`), Stats: []byte(`{"queued":2}`)}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordSweep(ctx, idA, SweepRecord{Finished: fin, Next: fin.Add(time.Hour), Error: "boom", Stats: []byte(`{"queued":0}`)}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Registry(ctx, idA)
		if string(got.LastAudit) != `{"findings":[]}` || string(got.LastStats) != `{"queued":0}` || got.LastError != "boom" || got.LastSweep == nil {
			t.Errorf("after sweeps: %+v", got)
		}
		if list, _ := s.DueRegistries(ctx, time.Now()); len(list) != 0 {
			t.Errorf("due after a sweep: %+v", list)
		}

		// Update replaces settings; the secret goes with them.
		got.Secret, got.Tags = nil, []string{"v*"}
		if _, err := s.SaveRegistry(ctx, got, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Registry(ctx, idA); got.HasCredentials || !slices.Equal(got.Tags, []string{"v*"}) {
			t.Errorf("after update: %+v", got)
		}
		if _, err := s.SaveRegistry(ctx, &Registry{ID: 9999, URL: "x"}, time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("update of an unknown registry: %v", err)
		}
		if err := s.DeleteRegistry(ctx, idA); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRegistry(ctx, idA); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if all, err := s.Registries(ctx); err != nil || len(all) != 1 || all[0].ID != idB {
			t.Errorf("registries: %+v %v", all, err)
		}
	})
}
