package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// maxDriftFile bounds the tag store read from disk.
const maxDriftFile = 64 << 20

// TagRecord is what the drift store remembers of one tag.
type TagRecord struct {
	Digest    string    `json:"digest"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// DriftStore remembers, per registry, repository and tag, the digest the
// tag pointed to and when that was first seen. It is a JSON file; one
// store is safe for concurrent use, and writes replace the file
// atomically.
type DriftStore struct {
	path string
	mu   sync.Mutex
	tags map[string]TagRecord
	now  func() time.Time
}

// OpenDriftStore opens (or starts) the store at path, usually
// CACHE_DIR/tags.json.
func OpenDriftStore(path string) (*DriftStore, error) {
	s := &DriftStore{path: path, tags: map[string]TagRecord{}, now: time.Now}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tag store: %w", err)
	}
	if fi.Size() > maxDriftFile {
		return nil, fmt.Errorf("tag store %s is larger than %d bytes", path, maxDriftFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tag store: %w", err)
	}
	if err := json.Unmarshal(b, &s.tags); err != nil {
		return nil, fmt.Errorf("tag store %s: %w", path, err)
	}
	return s, nil
}

// Observe records that registry/repository:tag (tagRef, e.g.
// "registry.example.com/team/app:1.2") points to digest now. When it
// pointed to another digest before, it returns an integrity finding
// naming the old digest, the new one and when the old one was first
// seen.
func (s *DriftStore) Observe(tagRef, digest string) (*model.Finding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	old, seen := s.tags[tagRef]
	var f *model.Finding
	switch {
	case seen && old.Digest == digest:
		old.LastSeen = now
		s.tags[tagRef] = old
	default:
		if seen {
			f = &model.Finding{Class: model.ClassIntegrity, ID: "integrity-tag-drift", Severity: model.High,
				Title: "Tag " + tagRef + " now points to another image",
				Description: fmt.Sprintf("%s pointed to %s (first seen %s, last seen %s) and now points to %s. If nobody meant to republish the tag, the image may have been replaced; pin images by digest.",
					tagRef, old.Digest, old.FirstSeen.Format(time.RFC3339), old.LastSeen.Format(time.RFC3339), digest),
				Location: tagRef,
				Extra: map[string]string{"old_digest": old.Digest, "new_digest": digest,
					"first_seen": old.FirstSeen.Format(time.RFC3339), "last_seen": old.LastSeen.Format(time.RFC3339)}}
		}
		s.tags[tagRef] = TagRecord{Digest: digest, FirstSeen: now, LastSeen: now}
	}
	return f, s.save()
}

// Lookup returns what the store remembers of tagRef.
func (s *DriftStore) Lookup(tagRef string) (TagRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.tags[tagRef]
	return r, ok
}

func (s *DriftStore) save() error {
	b, err := json.MarshalIndent(s.tags, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("tag store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tags-*")
	if err != nil {
		return fmt.Errorf("tag store: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("tag store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tag store: %w", err)
	}
	return os.Rename(tmp.Name(), s.path)
}
