package server

import (
	"context"
	"time"
)

// prune deletes the scans beyond KeepScans per image, the events and
// logged verdicts older than KeepHistory, and the least recently used
// layers beyond LayerCacheMaxBytes from the shared cache and beyond the
// pipeline's CacheMaxMB from the local one; a zero setting keeps
// everything of its kind.
func (s *Server) prune(ctx context.Context) {
	if s.cfg.KeepScans > 0 {
		n, err := s.store.PruneScans(ctx, s.cfg.KeepScans)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("prune scan history", "error", err)
		case n > 0:
			s.log.Info("pruned scan history", "scans", n, "keep", s.cfg.KeepScans)
		}
	}
	if s.cfg.KeepHistory > 0 {
		events, verdicts, err := s.store.PruneHistory(ctx, time.Now().Add(-s.cfg.KeepHistory))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("prune events and verdicts", "error", err)
		case events+verdicts > 0:
			s.log.Info("pruned events and verdicts", "events", events, "verdicts", verdicts, "keep", s.cfg.KeepHistory.String())
		}
	}
	if s.cfg.LayerCacheMaxBytes > 0 {
		entries, bytes, err := s.store.PruneLayerCache(ctx, s.cfg.LayerCacheMaxBytes)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("prune layer cache", "error", err)
		case entries > 0:
			s.log.Info("evicted least recently used layers", "layers", entries, "bytes", bytes, "max_bytes", s.cfg.LayerCacheMaxBytes)
		}
	}
	if n, bytes, err := s.pipe.PruneCache(); err != nil && ctx.Err() == nil {
		s.log.Warn("prune local layer cache", "error", err)
	} else if n > 0 {
		s.log.Info("evicted least recently used local cache results", "results", n, "bytes", bytes)
	}
}
