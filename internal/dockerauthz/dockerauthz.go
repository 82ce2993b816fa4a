// Package dockerauthz is a Docker Engine authorization plugin: dockerd
// (started with --authorization-plugin=NAME) asks it about every API
// request (/AuthZPlugin.AuthZReq) and response (/AuthZPlugin.AuthZRes).
// A container create (POST /containers/create under any API version) is
// decided by a Decider on the image it names; every other request and
// every response passes. When the Decider cannot decide, the request is
// refused unless the plugin fails open.
//
// The protocol: https://docs.docker.com/engine/extend/plugins_authorization/.
package dockerauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
)

// Protocol bounds.
const (
	// MaxRequest bounds an AuthZReq body: dockerd forwards request bodies
	// of less than 1 MiB, base64-encoded, with the request's headers.
	MaxRequest = 4 << 20
	// DefaultTimeout bounds one decision: dockerd gives a plugin call 30 s.
	DefaultTimeout = 25 * time.Second
)

// Decision is a Decider's answer.
type Decision struct {
	Allow bool
	// Message says why (shown to the Docker client on a refusal).
	Message string
}

// Decider decides whether a container may be created from image, as the
// create request names it (a reference, an image ID or a short ID). An
// error means no decision could be made.
type Decider interface {
	Decide(ctx context.Context, image string) (Decision, error)
}

// Plugin answers dockerd's authorization calls.
type Plugin struct {
	Decider Decider
	// FailOpen lets a create through when no decision could be made; by
	// default it is refused (fail closed).
	FailOpen bool
	// Timeout bounds a decision (default DefaultTimeout).
	Timeout time.Duration
	// Log receives one line per decided create (default: discarded).
	Log *slog.Logger
}

// Request is an AuthZReq or AuthZRes body (the fields used here).
type Request struct {
	User          string `json:"User,omitempty"`
	RequestMethod string `json:"RequestMethod,omitempty"`
	RequestURI    string `json:"RequestUri,omitempty"`
	RequestBody   []byte `json:"RequestBody,omitempty"`
}

// Response answers AuthZReq and AuthZRes.
type Response struct {
	Allow bool   `json:"Allow"`
	Msg   string `json:"Msg,omitempty"`
	Err   string `json:"Err,omitempty"`
}

// ErrNoBody is returned by CreateImage for a create request dockerd
// forwarded without its body (not JSON, or 1 MiB or more): the image is
// unknown.
var ErrNoBody = errors.New("the container create request reached the plugin without its body")

// IsCreate reports whether a request is a container create: POST to
// /containers/create, after an optional /vN.N version prefix. The path is
// cleaned and compared without regard to case, so that no spelling
// dockerd might route slips past.
func IsCreate(method, uri string) bool {
	if !strings.EqualFold(method, http.MethodPost) {
		return false
	}
	p := uri
	if u, err := url.Parse(uri); err == nil {
		p = u.Path
	} else if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.ToLower(path.Clean("/" + p))
	if rest, ok := strings.CutPrefix(p, "/v"); ok {
		if i := strings.IndexByte(rest, '/'); i > 0 && strings.Trim(rest[:i], "0123456789.") == "" {
			p = rest[i:]
		}
	}
	return p == "/containers/create"
}

// CreateImage reads an AuthZReq body: for a container create, the image
// its body names (create true); for anything else, create false. A body
// that is not the protocol's JSON is an error, as is a create without
// its body (ErrNoBody) or whose body is not a JSON object.
func CreateImage(body []byte) (image string, create bool, err error) {
	if len(body) > MaxRequest {
		return "", false, fmt.Errorf("authorization request larger than %d bytes", MaxRequest)
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return "", false, fmt.Errorf("authorization request: %w", err)
	}
	if !IsCreate(req.RequestMethod, req.RequestURI) {
		return "", false, nil
	}
	if len(bytes.TrimSpace(req.RequestBody)) == 0 {
		return "", true, ErrNoBody
	}
	// Decoded as dockerd decodes it (encoding/json, fields matched
	// without regard to case), so both read the same image.
	var cfg struct {
		Image string
	}
	if err := json.Unmarshal(req.RequestBody, &cfg); err != nil {
		return "", true, fmt.Errorf("the container create request's body: %w", err)
	}
	return strings.TrimSpace(cfg.Image), true, nil
}

// Handler serves the plugin protocol.
func (p *Plugin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		answer(w, map[string][]string{"Implements": {"authz"}})
	})
	mux.HandleFunc("POST /AuthZPlugin.AuthZReq", p.authzReq)
	mux.HandleFunc("POST /AuthZPlugin.AuthZRes", func(w http.ResponseWriter, r *http.Request) {
		// Responses are never filtered: nothing to read.
		answer(w, Response{Allow: true})
	})
	return mux
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Plugin) authzReq(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequest+1))
	if err != nil {
		answer(w, Response{Err: "customs: reading the authorization request: " + err.Error()})
		return
	}
	image, create, err := CreateImage(body)
	if !create {
		if err != nil {
			// dockerd refuses a request whose authorization failed.
			answer(w, Response{Err: "customs: " + err.Error()})
			return
		}
		answer(w, Response{Allow: true})
		return
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var d Decision
	if err == nil && image == "" {
		// dockerd refuses a create without an image itself.
		d = Decision{Allow: true}
	} else if err == nil {
		timeout := p.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		d, err = p.Decider.Decide(ctx, image)
		cancel()
	}
	if err != nil {
		d = Decision{Allow: p.FailOpen, Message: fmt.Sprintf("customs could not decide about %s: %v", describe(image), err)}
		if p.FailOpen {
			d.Message += " (let through: the plugin fails open)"
		}
	}
	log.Info("docker container create", "image", image, "allow", d.Allow, "message", d.Message)
	answer(w, Response{Allow: d.Allow, Msg: d.Message})
}

// describe names the image as the client gave it, quoted and shortened.
func describe(image string) string {
	if image == "" {
		return "the image"
	}
	if len(image) > 256 {
		image = image[:256] + "..."
	}
	return fmt.Sprintf("%q", image)
}

// Serve answers dockerd on a Unix socket at socketPath (replacing a
// stale socket file, mode 0600: dockerd runs as root) until ctx ends.
func (p *Plugin) Serve(ctx context.Context, socketPath string) error {
	if fi, err := os.Lstat(socketPath); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("--docker-authz-socket %s exists and is not a socket", socketPath)
		}
		if err := os.Remove(socketPath); err != nil {
			return err
		}
	}
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		return err
	}
	if err := os.Chmod(socketPath, 0o600); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	_ = os.Remove(socketPath)
	return err
}
