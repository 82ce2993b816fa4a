package store

import (
	"context"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

func TestEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		before := now().Add(-time.Second)
		pkg := &model.PackageRef{Name: "libc6", Version: "2.36-9", Type: model.TypeDeb, PURL: "pkg:deb/debian/libc6@2.36-9"}
		added := NewEvents("sha256:a", "reg/app:1", EventNew, ReasonRematch, 7, []model.Finding{
			{Class: model.ClassVulnerability, ID: "CVE-2024-1", Aliases: []string{"DSA-1"}, Severity: model.High, Package: pkg, FixedVersion: "2.36-10"},
			{Class: model.ClassVulnerability, ID: "CVE-2024-2", Severity: model.Low, Package: pkg},
		})
		if err := s.AddEvents(ctx, 0, "rematch:1", added); err != nil {
			t.Fatal(err)
		}
		gone := NewEvents("sha256:b", "", EventResolved, ReasonRescan, 0, []model.Finding{{Class: model.ClassSecret, ID: "aws-key", Severity: model.Critical}})
		if err := s.AddEvents(ctx, 0, "scan:2", gone); err != nil {
			t.Fatal(err)
		}
		all, total, err := s.ListEvents(ctx, EventFilter{})
		if err != nil || total != 3 || len(all) != 3 {
			t.Fatalf("all events: %d of %d, %v", len(all), total, err)
		}
		if e := all[2]; e.Digest != "sha256:a" || e.Kind != EventNew || e.Finding.ID != "CVE-2024-1" || e.Finding.Aliases[0] != "DSA-1" ||
			*e.Finding.Package != *pkg || e.Finding.FixedVersion != "2.36-10" || e.Generation != 7 || e.Batch != "rematch:1" || e.Created.Before(before) {
			t.Errorf("oldest event: %+v", e)
		}
		if all[0].Finding.Package != nil || len(all[0].Finding.Aliases) != 0 {
			t.Errorf("an event without package or aliases: %+v", all[0])
		}
		for _, c := range []struct {
			f    EventFilter
			want int
		}{
			{EventFilter{Digest: "sha256:a"}, 2},
			{EventFilter{Kind: EventResolved}, 1},
			{EventFilter{Reason: ReasonRematch}, 2},
			{EventFilter{MinSeverity: model.High}, 2},
			{EventFilter{MinSeverity: model.Critical}, 1},
			{EventFilter{Since: now().Add(time.Hour)}, 0},
			{EventFilter{Batch: "rematch:1", MinSeverity: model.Low}, 2},
			{EventFilter{Limit: 1, Offset: 1}, 1},
		} {
			got, total, err := s.ListEvents(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if total != c.want && c.f.Limit == 0 || len(got) != c.want {
				t.Errorf("%+v: %d events of %d, want %d", c.f, len(got), total, c.want)
			}
		}
		if _, _, err := s.ListEvents(ctx, EventFilter{Kind: "other"}); err == nil {
			t.Error("an unknown kind was accepted")
		}
	})
}
