package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Headers of an outgoing notification.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// body keyed with the endpoint's secret (see Sign and Verify).
	SignatureHeader = "X-Customs-Signature"
	// EventHeader names the event the notification reports (SendEvent).
	EventHeader = "X-Customs-Event"
	// DeliveryHeader is a random id (26 base32 characters) for one notification, the same on
	// every attempt, so that a receiver can drop a repeated delivery.
	DeliveryHeader = "X-Customs-Delivery"
)

// signaturePrefix starts every signature header value.
const signaturePrefix = "sha256="

// maxResponseRead is how much of a response body Send reads (and drops) so
// that the connection can be reused.
const maxResponseRead = 64 << 10

// maxRedirects is how many same-host redirects one attempt follows.
const maxRedirects = 5

// Sign returns the signature header value of body under secret:
// "sha256=" followed by the lower-case hex HMAC-SHA256 of body keyed with
// secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is the signature of body under secret, as
// Sign makes it, comparing the MACs in constant time. An empty secret
// verifies nothing.
func Verify(secret string, body []byte, header string) bool {
	if secret == "" {
		return false
	}
	hexMAC, ok := strings.CutPrefix(strings.TrimSpace(header), signaturePrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sender delivers signed JSON notifications over HTTP. The zero value is
// ready to use: one attempt of at most DefaultTimeout, no retry.
type Sender struct {
	// Client sends the requests; nil means http.DefaultClient's transport.
	// Its redirect policy is replaced for each request: only 307 and 308
	// redirects to the same scheme, host and port are followed.
	Client *http.Client
	// Retries is how many more attempts follow a failed one when the
	// failure may be temporary: a network error, a 5xx or a 429 answer.
	// Other answers (2xx aside) are final.
	Retries int
	// Backoff is the wait before the first retry, doubled before each
	// next one; 0 means one second.
	Backoff time.Duration
	// MaxWait caps one wait between attempts; 0 means one minute. A
	// Retry-After answer asking for more than MaxWait ends the delivery
	// rather than retrying early.
	MaxWait time.Duration
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent as User-Agent; "" means "customs-webhook".
	UserAgent string
}

// DefaultTimeout bounds one delivery attempt when Sender.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// DeliveryError tells why a notification was not delivered.
type DeliveryError struct {
	// URL is the endpoint, without credentials, query or fragment.
	URL string
	// Delivery is the DeliveryHeader value sent.
	Delivery string
	// Attempts is the number of requests made.
	Attempts int
	// StatusCode is the last answer's HTTP status, 0 when none came.
	StatusCode int
	// Err is the last failure.
	Err error
}

// Error implements error.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("webhook: delivery %s to %s failed after %d attempt(s): %v", e.Delivery, e.URL, e.Attempts, e.Err)
}

// Unwrap returns the last failure.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Send POSTs payload, a JSON document, to endpoint, signed with secret (no
// SignatureHeader when secret is ""), retrying as the Sender says. It is
// SendEvent with no event name.
func (s *Sender) Send(ctx context.Context, endpoint, secret string, payload []byte) error {
	return s.SendEvent(ctx, endpoint, secret, "", payload)
}

// SendEvent is Send with EventHeader set to event (left out when event is
// ""). It returns nil once the endpoint answered 2xx, else a
// *DeliveryError. Waits between attempts honour a Retry-After answer
// (seconds or an HTTP date) and end early when ctx is done.
func (s *Sender) SendEvent(ctx context.Context, endpoint, secret, event string, payload []byte) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &DeliveryError{URL: redact(endpoint), Err: errors.New("endpoint is not an absolute http(s) URL")}
	}
	id := rand.Text()
	derr := &DeliveryError{URL: redact(endpoint), Delivery: id}
	client := s.client()
	wait := s.backoff()
	for attempt := 0; ; attempt++ {
		derr.Attempts = attempt + 1
		status, retryAfter, err := s.attempt(ctx, client, u, secret, event, id, payload)
		if err == nil {
			return nil
		}
		derr.StatusCode, derr.Err = status, err
		temporary := status == 0 || status >= 500 || status == http.StatusTooManyRequests
		if !temporary || attempt >= s.Retries || ctx.Err() != nil {
			return derr
		}
		next := wait
		if retryAfter > 0 {
			next = retryAfter
		}
		if next > s.maxWait() {
			if retryAfter > 0 {
				derr.Err = fmt.Errorf("%w; the endpoint asks to retry after %s, more than %s", err, retryAfter, s.maxWait())
				return derr
			}
			next = s.maxWait()
		}
		timer := time.NewTimer(next)
		select {
		case <-ctx.Done():
			timer.Stop()
			derr.Err = fmt.Errorf("%w; %w", err, ctx.Err())
			return derr
		case <-timer.C:
		}
		wait = min(2*wait, s.maxWait())
	}
}

// attempt makes one request and returns the answer's status (0 when none
// came), the Retry-After it asked for, and nil or why it failed.
func (s *Sender) attempt(ctx context.Context, client *http.Client, u *url.URL, secret, event, id string, payload []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent())
	req.Header.Set(DeliveryHeader, id)
	if event != "" {
		req.Header.Set(EventHeader, event)
	}
	if secret != "" {
		req.Header.Set(SignatureHeader, Sign(secret, payload))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	err = fmt.Errorf("endpoint answered %s", resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		err = fmt.Errorf("endpoint answered %s, a redirect to %q not followed", resp.Status, clip(resp.Header.Get("Location")))
	} else if text := strings.TrimSpace(string(head)); text != "" {
		err = fmt.Errorf("%w: %q", err, text)
	}
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), time.Now()), err
}

// client returns a copy of the Sender's client whose redirect policy follows
// only redirects that keep the POST and its body (307, 308) to the same
// scheme, host and port.
func (s *Sender) client() *http.Client {
	c := http.Client{}
	if s.Client != nil {
		c = *s.Client
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.Method != http.MethodPost || req.URL.Scheme != first.Scheme || req.URL.Host != first.Host || len(via) > maxRedirects {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &c
}

func (s *Sender) backoff() time.Duration {
	if s.Backoff > 0 {
		return s.Backoff
	}
	return time.Second
}

func (s *Sender) maxWait() time.Duration {
	if s.MaxWait > 0 {
		return s.MaxWait
	}
	return time.Minute
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func (s *Sender) userAgent() string {
	if s.UserAgent != "" {
		return s.UserAgent
	}
	return "customs-webhook"
}

// retryAfter parses a Retry-After value, delay seconds or an HTTP date,
// into a wait from now; 0 when absent, invalid or already past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			return 24 * time.Hour
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact returns endpoint without user information, query or fragment,
// which may hold credentials, for error messages.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
