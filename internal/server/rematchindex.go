package server

import (
	"context"

	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/store"
)

// scansToRead returns which scans of page a re-match to rm's generation
// must read: those the changes since their generation may touch (by the
// store's package index, store.TouchedScans), those of images whose package keys
// are not recorded, and all of a generation whose changes cannot be told.
// The others' findings stay as they are.
func (s *Server) scansToRead(ctx context.Context, rm *pipeline.Rematcher, page []store.MatchedScan) (map[int64]bool, error) {
	read := map[int64]bool{}
	byGen := map[int64][]store.MatchedScan{}
	for _, m := range page {
		if m.Indexed {
			byGen[m.Generation] = append(byGen[m.Generation], m)
		} else {
			read[m.Scan] = true
		}
	}
	for gen, scans := range byGen {
		ch, ok, err := rm.Changes(ctx, gen)
		if err != nil {
			return nil, err
		}
		if !ok {
			for _, m := range scans {
				read[m.Scan] = true
			}
			continue
		}
		touched, err := s.store.TouchedScans(ctx, scans, ch.Keys, ch.IDs)
		if err != nil {
			return nil, err
		}
		for id := range touched {
			read[id] = true
		}
	}
	return read, nil
}
