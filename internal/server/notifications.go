package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/webhook"
)

// Bounds of a notification endpoint's settings, and of one delivery.
const (
	maxNotifyURL    = 2048
	maxNotifySecret = 1024
	notifyPage      = 500
)

// notifyAAD binds sealed notification secrets to their use.
var notifyAAD = []byte("customs notification secret v1")

// NotificationRequest is the body of POST /api/v1/notifications.
type NotificationRequest struct {
	// URL is the http(s) endpoint deliveries are POSTed to.
	URL string `json:"url"`
	// Secret keys the HMAC-SHA256 signature of each delivery
	// (webhook.SignatureHeader); stored sealed, never returned.
	Secret string `json:"secret"`
	// MinSeverity delivers only events whose finding is at least this
	// severe ("": all).
	MinSeverity string `json:"min_severity,omitempty"`
	// Kinds delivers only events of these kinds (new, resolved; empty:
	// both).
	Kinds []string `json:"kinds,omitempty"`
}

// Delivery is the JSON body of one notification: events of one batch (a
// re-match or a scan), at most notifyPage of them; a larger batch comes in
// Parts deliveries.
type Delivery struct {
	Batch  string        `json:"batch"`
	Part   int           `json:"part"`
	Parts  int           `json:"parts"`
	Total  int           `json:"total"`
	Events []store.Event `json:"events"`
}

// NotifyEvent is the webhook.EventHeader value of a delivery.
const NotifyEvent = "events"

func (s *Server) createNotification(w http.ResponseWriter, r *http.Request) {
	var body NotificationRequest
	if !decodeBody(w, r, 16<<10, &body, `{"url": "https://...", "secret": "...", "min_severity": "HIGH", "kinds": ["new"]}`) {
		return
	}
	n, err := s.checkNotification(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if n.Secret, err = sealBytes(s.key, notifyAAD, []byte(body.Secret)); err != nil {
		s.internalError(w, r, err)
		return
	}
	if _, err := s.store.AddNotification(r.Context(), n); err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/notifications/%d", n.ID))
	writeJSON(w, http.StatusCreated, n)
}

// checkNotification checks a request and returns the endpoint it
// describes, its secret not yet sealed.
func (s *Server) checkNotification(body NotificationRequest) (*store.Notification, error) {
	u, err := url.Parse(body.URL)
	switch {
	case len(body.URL) > maxNotifyURL:
		return nil, fmt.Errorf("url: longer than %d characters", maxNotifyURL)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("url %q: want an absolute http or https URL", body.URL)
	case u.User != nil:
		return nil, errors.New("url: no user or password in the URL (the URL is listed to every reader; deliveries are authenticated by their signature)")
	case body.Secret == "" || len(body.Secret) > maxNotifySecret:
		return nil, fmt.Errorf("secret: required, at most %d bytes (deliveries are signed with it)", maxNotifySecret)
	case s.key == nil:
		return nil, errors.New("this server has no secret key to encrypt notification secrets with: start it with --secret-key-file")
	}
	n := &store.Notification{URL: body.URL, Kinds: []string{}}
	if body.MinSeverity != "" {
		if n.MinSeverity, err = parseSeverity(body.MinSeverity); err != nil {
			return nil, fmt.Errorf("min_severity %q: %w", body.MinSeverity, err)
		}
	}
	for _, k := range body.Kinds {
		if k != store.EventNew && k != store.EventResolved {
			return nil, fmt.Errorf("kinds: %q: want new or resolved", k)
		}
		if !slices.Contains(n.Kinds, k) {
			n.Kinds = append(n.Kinds, k)
		}
	}
	return n, nil
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	ns, err := s.store.Notifications(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": ns})
}

func (s *Server) deleteNotification(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "notification id %q: want a positive number", r.PathValue("id"))
		return
	}
	if s.notFound(w, r, s.store.DeleteNotification(r.Context(), id), "no notification %d", id) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// NotifyArgs is a delivery job: POST the events of Batch that
// Notification selects to its endpoint. Unique by both fields: a batch
// is delivered once to each endpoint.
type NotifyArgs struct {
	Notification int64  `json:"notification"`
	Batch        string `json:"batch"`
}

// Kind names the job kind.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts queues deliveries on QueueRematch, once per endpoint and
// batch, with up to 10 attempts.
func (NotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRematch, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// queueNotifications queues the delivery of batch to every endpoint that
// selects one of its events.
func (s *Server) queueNotifications(ctx context.Context, batch string) error {
	ns, err := s.store.Notifications(ctx)
	if err != nil {
		return err
	}
	for _, n := range ns {
		f := n.Filter(batch)
		f.Limit = 1
		if _, total, err := s.store.ListEvents(ctx, f); err != nil || total == 0 {
			if err != nil {
				return err
			}
			continue
		}
		if _, err := s.jobs.Insert(ctx, NotifyArgs{Notification: n.ID, Batch: batch}, nil); err != nil {
			return fmt.Errorf("queue a delivery to notification %d: %w", n.ID, err)
		}
	}
	return nil
}

// notifyWorker runs delivery jobs.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	s *Server
}

// NextRetry waits 30 s, 2 min, 4.5 min, ... up to an hour between failed
// deliveries (each of which already retried a few times within seconds).
func (*notifyWorker) NextRetry(job *river.Job[NotifyArgs]) time.Time {
	n := time.Duration(len(job.Errors) + 1)
	return time.Now().Add(min(30*time.Second*n*n, time.Hour))
}

// Work delivers the batch's events, signed, in parts of notifyPage. A
// failed part fails the job, which River retries: the endpoint may see a
// part again (each event has its id).
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	s := w.s
	n, err := s.store.Notification(ctx, job.Args.Notification)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted since
	}
	if err != nil {
		return err
	}
	secret, err := openBytes(s.key, notifyAAD, n.Secret)
	if err != nil {
		return river.JobCancel(fmt.Errorf("notification %d's secret: %w", n.ID, err))
	}
	sender := &webhook.Sender{Retries: 3, Backoff: time.Second, MaxWait: 30 * time.Second, UserAgent: "customs/" + s.cfg.Pipeline.Version}
	f := n.Filter(job.Args.Batch)
	f.Limit = notifyPage
	for part := 1; ; part++ {
		events, total, err := s.store.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		body, err := json.Marshal(Delivery{Batch: job.Args.Batch, Part: part, Parts: (total + notifyPage - 1) / notifyPage, Total: total, Events: events})
		if err != nil {
			return err
		}
		err = sender.SendEvent(ctx, n.URL, string(secret), NotifyEvent, body)
		if rerr := s.store.NotificationDelivered(ctx, n.ID, err); rerr != nil {
			s.log.Warn("record a delivery", "notification", n.ID, "error", rerr)
		}
		if err != nil {
			return err
		}
		s.log.Info("notified", "notification", n.ID, "batch", job.Args.Batch, "part", part, "events", len(events))
		f.Offset += len(events)
	}
}
