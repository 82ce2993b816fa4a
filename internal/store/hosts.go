package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Host is a host whose local images a worker watches.
type Host struct {
	Name string `json:"name"`
	// Engines are the engines watched, as "docker at unix:///...".
	Engines []string `json:"engines"`
	// Started is when the host's watch last started.
	Started time.Time `json:"started"`
	// LastSeen is the host's last heartbeat.
	LastSeen time.Time `json:"last_seen"`
}

// StartHost records that host started watching engines, now.
func (s *Store) StartHost(ctx context.Context, host string, engines []string) error {
	at := Millis(now())
	_, err := s.Exec(ctx, `INSERT INTO host(name, engines, started, last_seen) VALUES(?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET engines = excluded.engines, started = excluded.started, last_seen = excluded.last_seen`,
		host, strings.Join(engines, "\n"), at, at)
	return err
}

// SeeHost records a heartbeat of host, now.
func (s *Store) SeeHost(ctx context.Context, host string) error {
	_, err := s.Exec(ctx, `UPDATE host SET last_seen = ? WHERE name = ?`, Millis(now()), host)
	return err
}

// Hosts lists the hosts by name.
func (s *Store) Hosts(ctx context.Context) ([]Host, error) {
	rows, err := s.Query(ctx, `SELECT name, engines, started, last_seen FROM host ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Host{}
	for rows.Next() {
		var h Host
		var engines string
		var started, last int64
		if err := rows.Scan(&h.Name, &engines, &started, &last); err != nil {
			return nil, err
		}
		h.Engines = []string{}
		if engines != "" {
			h.Engines = strings.Split(engines, "\n")
		}
		h.Started, h.LastSeen = Time(started), Time(last)
		out = append(out, h)
	}
	return out, rows.Err()
}

// HostImage is an image of a host's engine as the store knows it: its
// digest, the input its latest scan on that host was given (the engine's
// image ID; empty when no scan there says) and its live references.
type HostImage struct {
	Digest string
	// Namespace is the containerd namespace holding the image.
	Namespace string
	Input     string
	Refs      []Ref
}

// HostImages lists the images with live references of source on host,
// by digest, each with the input of its latest scan by the worker named
// host from that source.
func (s *Store) HostImages(ctx context.Context, source, host string) ([]HostImage, error) {
	refs, err := s.HostRefs(ctx, source, host)
	if err != nil {
		return nil, err
	}
	var out []HostImage
	for _, r := range refs {
		if n := len(out); n > 0 && out[n-1].Digest == r.Digest && out[n-1].Namespace == r.Namespace {
			out[n-1].Refs = append(out[n-1].Refs, r)
			continue
		}
		var input string
		err := s.QueryRow(ctx, `SELECT input FROM scan WHERE digest = ? AND source = ? AND worker = ? ORDER BY id DESC LIMIT 1`,
			r.Digest, source, host).Scan(&input)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		out = append(out, HostImage{Digest: r.Digest, Namespace: r.Namespace, Input: input, Refs: []Ref{r}})
	}
	return out, nil
}
