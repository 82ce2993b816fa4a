package dockerauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"
	"github.com/opencontainers/go-digest"

	"github.com/customs-scanner/customs/internal/model"
)

// Image is an engine's image as a container create names it.
type Image struct {
	// Ref is the reference policies match the image by: the name the
	// create gave, or, when it gave the image's ID, the image's first tag
	// (else registry digest).
	Ref string `json:"image"`
	// ID is the image ID (sha256:...).
	ID string `json:"id"`
	// RepoDigests are the registry references the engine recorded for
	// it (repository@sha256:...).
	RepoDigests []string `json:"repo_digests,omitempty"`
}

// Digests are the digests the image may be known by: its ID, then the
// digests of its registry references.
func (im Image) Digests() []string {
	out := []string{im.ID}
	for _, rd := range im.RepoDigests {
		if _, dg, ok := strings.Cut(rd, "@"); ok {
			out = append(out, dg)
		}
	}
	return out
}

// Resolve looks image (a reference, an image ID or a short ID) up in the
// Docker Engine at host. An image the engine does not have is nil, no
// error.
func Resolve(ctx context.Context, host, image string) (*Image, error) {
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("customs"))
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ins, err := cli.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the Docker Engine at %s: %w", host, err)
	}
	im := &Image{Ref: image, ID: ins.ID, RepoDigests: ins.RepoDigests}
	if !strings.Contains(im.ID, ":") {
		im.ID = "sha256:" + im.ID
	}
	hex, short := strings.TrimPrefix(im.ID, "sha256:"), strings.TrimPrefix(image, "sha256:")
	if len(short) >= 4 && strings.HasPrefix(hex, short) {
		switch {
		case len(ins.RepoTags) > 0:
			im.Ref = ins.RepoTags[0]
		case len(ins.RepoDigests) > 0:
			im.Ref = ins.RepoDigests[0]
		}
	}
	return im, nil
}

// maxMessage bounds a refusal's message.
const maxMessage = 1024

// Refusal is the message dockerd shows the client when a policy denies
// image: the rule, the policy, the reason and the worst findings.
func Refusal(image string, v model.Verdict) string {
	msg := fmt.Sprintf("customs: image %s is denied by rule %q", image, v.Rule)
	if v.Policy != "" {
		msg += " of policy " + v.Policy
	}
	msg += ": " + v.Reason
	if len(v.Findings) > 0 {
		var fs []string
		for _, f := range v.Findings {
			fs = append(fs, fmt.Sprintf("%s %s", f.Severity, f.ID))
		}
		msg += " (" + strings.Join(fs, ", ") + ")"
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	return msg
}

// DecideRequest is the body of a customs server's
// POST /api/v1/docker/decide: an engine's image and the engine's host.
type DecideRequest struct {
	Image
	Host string `json:"host,omitempty"`
}

// Bounds of a DecideRequest.
const (
	MaxDecideRequest = 64 << 10
	maxRepoDigests   = 100
)

// ParseDecideRequest reads and checks a DecideRequest: one JSON object
// of at most MaxDecideRequest bytes and no other fields, an image ID and
// registry references with sha256 digests, a reference that parses.
func ParseDecideRequest(body []byte) (DecideRequest, error) {
	var req DecideRequest
	if len(body) > MaxDecideRequest {
		return req, fmt.Errorf("body larger than %d bytes", MaxDecideRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return req, errors.New("body: more than one JSON value")
	}
	if len(req.RepoDigests) > maxRepoDigests {
		return req, fmt.Errorf("repo_digests: at most %d", maxRepoDigests)
	}
	if d, err := digest.Parse(req.ID); err != nil || d.Algorithm() != digest.SHA256 {
		return req, fmt.Errorf("id %q: want sha256:<64 hex digits>", clip(req.ID))
	}
	for _, rd := range req.RepoDigests {
		r, err := name.NewDigest(rd, name.WeakValidation)
		if err != nil || !strings.HasPrefix(r.DigestStr(), "sha256:") {
			return req, fmt.Errorf("repo digest %q: want REPOSITORY@sha256:...", clip(rd))
		}
	}
	if _, err := name.ParseReference(req.Ref, name.WeakValidation); err != nil {
		return req, fmt.Errorf("image %q: %v", clip(req.Ref), err)
	}
	if len(req.Host) > 255 {
		return req, errors.New("host: longer than 255 bytes")
	}
	return req, nil
}

// clip shortens a client's value for an error message.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

// maxAnswer bounds a server's answer.
const maxAnswer = 1 << 20

// Remote decides with the policy of a customs server (POST
// /api/v1/docker/decide): the image is resolved in the local engine,
// the server decides on its stored report.
type Remote struct {
	// Server is the server's base URL; Token an admin API token.
	Server, Token string
	// Engine is the local Docker Engine's address; Host this machine's
	// name for the policy's match.hosts.
	Engine, Host string
	// Client makes the requests (default http.DefaultClient).
	Client *http.Client
}

// Decide implements Decider.
func (r *Remote) Decide(ctx context.Context, image string) (Decision, error) {
	im, err := Resolve(ctx, r.Engine, image)
	if err != nil || im == nil {
		return Decision{Allow: im == nil}, err
	}
	body, err := json.Marshal(DecideRequest{Image: *im, Host: r.Host})
	if err != nil {
		return Decision{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.Server, "/")+"/api/v1/docker/decide", bytes.NewReader(body))
	if err != nil {
		return Decision{}, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set("Content-Type", "application/json")
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Decision{}, fmt.Errorf("customs server: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Decision{}, fmt.Errorf("customs server: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return Decision{}, fmt.Errorf("customs server: %s: %s", resp.Status, e.Error)
	}
	var v model.Verdict
	if err := json.Unmarshal(data, &v); err != nil {
		return Decision{}, fmt.Errorf("customs server's verdict: %w", err)
	}
	switch v.Action {
	case model.ActionDeny:
		return Decision{Message: Refusal(image, v)}, nil
	case model.ActionWarn, model.ActionAllow:
		return Decision{Allow: true, Message: string(v.Action) + ": " + v.Reason}, nil
	}
	return Decision{}, fmt.Errorf("customs server's verdict: action %q", v.Action)
}
