package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/verdict"
)

// Enforcement points, as verdicts are logged.
const (
	PointKubernetes = "kubernetes"
)

// builtinPolicy is in force until a policy is stored: scanned images are
// allowed, unscanned ones denied (fail closed).
var builtinPolicy = func() *verdict.Policy {
	p, err := verdict.Parse([]byte("name: builtin\nrules: []\n"))
	if err != nil {
		panic(err)
	}
	return p
}()

// policies caches the parsed current policy by version.
type policies struct {
	mu      sync.Mutex
	version int64
	policy  *verdict.Policy
}

// currentPolicy returns the policy in force and its version (0: the
// built-in one).
func (s *Server) currentPolicy(ctx context.Context) (*verdict.Policy, int64, error) {
	v, err := s.store.CurrentPolicyVersion(ctx)
	if err != nil || v == 0 {
		return builtinPolicy, 0, err
	}
	s.pols.mu.Lock()
	defer s.pols.mu.Unlock()
	if s.pols.version != v {
		cur, err := s.store.Policy(ctx, v)
		if err != nil {
			return nil, 0, err
		}
		p, err := verdict.Parse([]byte(cur.Text))
		if err != nil {
			return nil, 0, fmt.Errorf("stored policy version %d: %w", v, err)
		}
		s.pols.version, s.pols.policy = v, p
	}
	return s.pols.policy, v, nil
}

// PolicyAnswer answers PUT and GET /api/v1/policies.
type PolicyAnswer struct {
	// Current is the policy in force (nil: none stored; the built-in
	// policy allows scanned images and denies unscanned ones).
	Current *store.PolicyVersion `json:"current"`
	// Rules is how many rules the current policy has.
	Rules    int                   `json:"rules"`
	Versions []store.PolicyVersion `json:"versions,omitempty"`
}

// putPolicy stores the body (a policy file) as the next version, after
// parsing it: a policy that does not parse is refused with its line.
func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, verdict.MaxPolicyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "policy: %v", err)
		return
	}
	p, err := verdict.Parse(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "policy: %v", err)
		return
	}
	v, err := s.store.SavePolicy(r.Context(), p.Name, p.Digest, string(b))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("policy stored", "version", v, "name", p.Name, "digest", p.Digest, "rules", len(p.Rules))
	cur := &store.PolicyVersion{Version: v, Name: p.Name, Digest: p.Digest, Created: time.Now().UTC(), Text: string(b)}
	writeJSON(w, http.StatusCreated, PolicyAnswer{Current: cur, Rules: len(p.Rules)})
}

// getPolicy answers the current policy, with its text, and the list of
// versions.
func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, version, err := s.currentPolicy(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	var cur *store.PolicyVersion
	if version > 0 {
		if cur, err = s.store.Policy(r.Context(), version); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	vs, err := s.store.PolicyVersions(r.Context(), 100)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PolicyAnswer{Current: cur, Rules: len(p.Rules), Versions: vs})
}

// listVerdicts lists logged verdicts, newest first: ?digest=, ?action=,
// ?before=ID to page, ?limit= (default 100, at most 1000).
func (s *Server) listVerdicts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.VerdictFilter{Digest: q.Get("digest"), Action: model.PolicyAction(q.Get("action")), Limit: 100}
	switch f.Action {
	case "", verdict.Deny, verdict.Warn, verdict.Allow:
	default:
		writeError(w, http.StatusBadRequest, "action %q: want deny, warn or allow", f.Action)
		return
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "before %q: want a positive number", v)
			return
		}
		f.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit %q: want 1 to 1000", v)
			return
		}
		f.Limit = n
	}
	vs, err := s.store.Verdicts(r.Context(), f)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"verdicts": vs})
}

// DecideRequest asks for the policy's verdict on one image at an
// enforcement point.
type DecideRequest struct {
	// Image is the reference as the workload names it.
	Image string
	// Digest is its resolved digest, when the caller knows it; else it
	// is resolved in the registry.
	Digest string
	// Namespace (Kubernetes) and Host (Docker) say where it is to run.
	Namespace, Host string
	// Point is the enforcement point (PointKubernetes, ...).
	Point string
	// PullSecrets names the pull secrets of Namespace the workload
	// gives (imagePullSecrets): the first with credentials for the
	// image's registry is used over the server's.
	PullSecrets []string
	// Scan, when set, is the job that scans the image on demand instead
	// of a scan of REGISTRY/REPOSITORY@DIGEST in its registry: a scan of
	// a local engine's image (Engine set), run on this host's queue.
	Scan *ScanArgs
	// NoScan says the image cannot be scanned on demand (a remote
	// engine's image that no registry holds).
	NoScan bool
}

// Decide evaluates the current policy for an image: it resolves the
// image's digest in its registry (with the credentials of the first of
// the request's pull secrets that has some for it, else those of a
// registry configured on the server, if one matches), reads the image's latest
// stored report and, for an image without one whose policy asks to scan
// on demand, queues a scan and waits for it within the policy's timeout
// and ctx. Every verdict is logged. An error means no decision could be
// made (the caller applies its failure policy); ctx bounds all of it.
func (s *Server) Decide(ctx context.Context, req DecideRequest) (verdict.Verdict, error) {
	pol, version, err := s.currentPolicy(ctx)
	if err != nil {
		return verdict.Verdict{}, err
	}
	img, err := verdict.ParseImage(req.Image)
	if err != nil {
		return verdict.Verdict{}, fmt.Errorf("image %q: %w", req.Image, err)
	}
	reg, src, err := s.registryOf(ctx, img.Registry)
	if err != nil {
		return verdict.Verdict{}, err
	}
	auth, err := s.pullSecretSource(req, img, &src)
	if err != nil {
		return verdict.Verdict{}, err
	}
	if req.Digest != "" {
		img.Digest = req.Digest
	} else if img.Digest, err = resolveDigest(ctx, req.Image, src); err != nil {
		return verdict.Verdict{}, fmt.Errorf("image %s could not be resolved to a digest: %w", req.Image, err)
	}
	rep, err := s.store.LatestReport(ctx, img.Digest)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return verdict.Verdict{}, err
	}
	var waited string
	if rep == nil && pol.Unscanned.ScanOnDemand && !req.NoScan {
		if rep, waited, err = s.scanOnDemand(ctx, img, reg, src, auth, req.Scan, pol.Unscanned.Timeout); err != nil {
			return verdict.Verdict{}, err
		}
	}
	v := pol.Evaluate(verdict.Input{Image: img, Namespace: req.Namespace, Host: req.Host, Report: rep})
	if v.Rule == verdict.RuleUnscanned && waited != "" {
		v.Reason += " (" + waited + ")"
	}
	s.metrics.verdicts.WithLabelValues(req.Point, string(v.Action)).Inc()
	if err := s.store.LogVerdict(context.WithoutCancel(ctx), store.VerdictRecord{Point: req.Point, Image: req.Image, Digest: img.Digest,
		Namespace: req.Namespace, Host: req.Host, PolicyVersion: version, Action: v.Action, Rule: v.Rule, Reason: v.Reason, Findings: v.Findings}); err != nil {
		s.log.Error("log verdict", "image", req.Image, "error", err)
	}
	return v, nil
}

// registryOf returns the registry configured on the server for host
// (nil: none) and the source options to reach it: its credentials and
// transport settings over the server's own.
func (s *Server) registryOf(ctx context.Context, host string) (*store.Registry, source.Options, error) {
	src := s.cfg.Pipeline.Source
	regs, err := s.store.Registries(ctx)
	if err != nil {
		return nil, src, err
	}
	if host == "docker.io" {
		host = name.DefaultRegistry // as registries are stored
	}
	for i := range regs {
		if strings.EqualFold(regs[i].URL, host) {
			return &regs[i], src, s.registrySource(&regs[i], &src)
		}
	}
	return nil, src, nil
}

// resolveDigest asks the registry for the digest ref names (a HEAD
// request); an index resolves to its image for linux and this machine's
// architecture, the image a scan of the reference reads.
func resolveDigest(ctx context.Context, ref string, src source.Options) (string, error) {
	r, err := name.ParseReference(ref, src.NameOptions()...)
	if err != nil {
		return "", err
	}
	opts := src.RemoteOptions(ctx)
	desc, err := remote.Head(r, opts...)
	if err != nil {
		return "", err
	}
	if !desc.MediaType.IsIndex() {
		return desc.Digest.String(), nil
	}
	idx, err := remote.Index(r, opts...)
	if err != nil {
		return "", err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if src.Platform != nil {
		want = *src.Platform
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(want) {
			return d.Digest.String(), nil
		}
	}
	return "", fmt.Errorf("the index %s has no image for %s", desc.Digest, want.String())
}

// scanOnDemand queues a scan of img (by digest, with auth when set:
// credentials of a pull secret; local, when set, is the job instead) and
// waits for its report up to timeout (and ctx). No report in time is no
// error: the image is still unscanned, and waited says why.
func (s *Server) scanOnDemand(ctx context.Context, img verdict.Image, reg *store.Registry, src source.Options, auth *credentials, local *ScanArgs, timeout time.Duration) (*report.Report, string, error) {
	ref := img.Registry + "/" + img.Repository + "@" + img.Digest
	args := ScanArgs{Image: ref, PlainHTTP: src.PlainHTTP, Insecure: src.Insecure, Reason: "admission"}
	if reg != nil {
		args.RegistryID = reg.ID
	}
	if auth != nil && local == nil {
		if s.key == nil {
			return nil, "not scanned on demand: the image needs the credentials of a pull secret, and this server has no secret key to keep them in a scan job with (start it with --secret-key-file)", nil
		}
		if err := s.sealJobAuth(&args, *auth); err != nil {
			return nil, "", err
		}
	}
	var opts *river.InsertOpts
	if local != nil {
		args, ref = *local, local.Image
		o := args.InsertOpts()
		o.Queue = HostQueue(s.cfg.HostName)
		opts = &o
	}
	res, err := s.jobs.Insert(ctx, args, opts)
	if err != nil {
		return nil, "", fmt.Errorf("queue a scan of %s: %w", ref, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.scanStatus(wctx, res.Job.ID)
		if err == nil {
			switch st.Status {
			case StatusSucceeded:
				rep, err := s.store.LatestReport(ctx, img.Digest)
				if err != nil {
					return nil, "", err
				}
				return rep, "", nil
			case StatusFailed, StatusCanceled:
				return nil, "the scan on demand failed: " + st.Error, nil
			}
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, "", fmt.Errorf("waiting for the scan on demand: %w", ctx.Err())
			}
			return nil, fmt.Sprintf("the scan on demand did not finish within %s", timeout), nil
		case <-tick.C:
		}
	}
}
