package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// Notification is an endpoint events are delivered to. Its secret is
// kept only sealed (Secret), and never leaves the server.
type Notification struct {
	ID  int64  `json:"id"`
	URL string `json:"url"`
	// Secret is the sealed signing secret.
	Secret []byte `json:"-"`
	// MinSeverity and Kinds select the events delivered ("" and empty:
	// all).
	MinSeverity  model.Severity `json:"min_severity,omitempty"`
	Kinds        []string       `json:"kinds"`
	Created      time.Time      `json:"created"`
	LastDelivery *time.Time     `json:"last_delivery,omitempty"`
	LastError    string         `json:"last_error,omitempty"`
}

// Filter is the event filter of n over batch.
func (n *Notification) Filter(batch string) EventFilter {
	f := EventFilter{Batch: batch, MinSeverity: n.MinSeverity}
	if len(n.Kinds) == 1 {
		f.Kind = n.Kinds[0]
	}
	return f
}

const notificationCols = `id, url, secret, min_severity, kinds, created, last_delivery, last_error`

func scanNotification(row interface{ Scan(...any) error }) (*Notification, error) {
	var n Notification
	var kinds string
	var created, last int64
	if err := row.Scan(&n.ID, &n.URL, &n.Secret, &n.MinSeverity, &kinds, &created, &last, &n.LastError); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if err := json.Unmarshal([]byte(kinds), &n.Kinds); err != nil {
		return nil, err
	}
	n.Created = Time(created)
	if last != 0 {
		t := Time(last)
		n.LastDelivery = &t
	}
	return &n, nil
}

// AddNotification stores n and returns its id.
func (s *Store) AddNotification(ctx context.Context, n *Notification) (int64, error) {
	if n.Kinds == nil {
		n.Kinds = []string{}
	}
	kinds, err := json.Marshal(n.Kinds)
	if err != nil {
		return 0, err
	}
	n.Created = now()
	err = s.QueryRow(ctx, `INSERT INTO notification(url, secret, min_severity, kinds, created) VALUES(?, ?, ?, ?, ?) RETURNING id`,
		n.URL, n.Secret, string(n.MinSeverity), string(kinds), Millis(n.Created)).Scan(&n.ID)
	return n.ID, err
}

// Notifications lists the notification endpoints.
func (s *Store) Notifications(ctx context.Context) ([]Notification, error) {
	rows, err := s.Query(ctx, `SELECT `+notificationCols+` FROM notification ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *n)
	}
	return out, rows.Err()
}

// Notification returns one notification endpoint (ErrNotFound when none).
func (s *Store) Notification(ctx context.Context, id int64) (*Notification, error) {
	return scanNotification(s.QueryRow(ctx, `SELECT `+notificationCols+` FROM notification WHERE id = ?`, id))
}

// DeleteNotification forgets a notification endpoint.
func (s *Store) DeleteNotification(ctx context.Context, id int64) error {
	res, err := s.Exec(ctx, `DELETE FROM notification WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(ErrNotFound, err)
	}
	return nil
}

// NotificationDelivered records a delivery's outcome (deliveryErr nil:
// delivered).
func (s *Store) NotificationDelivered(ctx context.Context, id int64, deliveryErr error) error {
	msg := ""
	if deliveryErr != nil {
		msg = deliveryErr.Error()
	}
	_, err := s.Exec(ctx, `UPDATE notification SET last_delivery = ?, last_error = ? WHERE id = ?`, Millis(now()), msg, id)
	return err
}
