package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/riverqueue/river/rivertype"

	"github.com/customs-scanner/customs/internal/harbor"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/store"
)

// PointHarbor names the Harbor scanner API in logged verdicts.
const PointHarbor = "harbor"

// DefaultHarborPath is where Harbor's pluggable scanner API is served.
const DefaultHarborPath = "/harbor"

// harborRefreshAfter is the Refresh-After (seconds) of a report not
// ready yet.
const harborRefreshAfter = "5"

// harborDefaults checks HarborPath: "/" or an absolute path without
// pattern characters, "." or ".." segments or a trailing slash.
func (c *Config) harborDefaults() error {
	if c.HarborPath == "" {
		c.HarborPath = DefaultHarborPath
	}
	p := c.HarborPath
	if p != "/" && (!strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, "{}* \t?#%")) {
		return fmt.Errorf("--harbor-path %q: want an absolute path such as %s (or / for the root)", p, DefaultHarborPath)
	}
	return nil
}

// harborBase is the prefix of the Harbor routes ("" at the root).
func (s *Server) harborBase() string {
	p := s.cfg.HarborPath
	if p == "" {
		p = DefaultHarborPath
	}
	return strings.TrimSuffix(p, "/")
}

// errorWriter answers errors of r's route: in the Harbor API's envelope
// under the Harbor path, customs' otherwise.
func (s *Server) errorWriter(r *http.Request) func(http.ResponseWriter, int, string, ...any) {
	if strings.HasPrefix(r.URL.Path, s.harborBase()+"/api/v1/") {
		return harbor.WriteError
	}
	return writeError
}

// harborMetadata answers the adapter's metadata: capabilities, version
// and when the vulnerability database was updated.
func (s *Server) harborMetadata(w http.ResponseWriter, r *http.Request) {
	in := harbor.Info{Version: s.cfg.Pipeline.Version, Scanners: s.cfg.Pipeline.Scanners}
	if s.pipe != nil {
		if db := s.pipe.Database(); db != nil {
			in.DBUpdated = db.Updated
		}
	}
	if in.DBUpdated.IsZero() {
		db, err := s.store.VulnDB(r.Context())
		switch {
		case err == nil:
			in.DBUpdated = db.Published
		case !errors.Is(err, store.ErrNotFound):
			s.harborInternal(w, r, err)
			return
		}
	}
	harbor.WriteJSON(w, http.StatusOK, harbor.MimeMetadata, harbor.NewMetadata(in))
}

// harborScan queues the scan a Harbor scan request asks for and answers
// its id. The registry credentials travel sealed in the job; requests of
// one artifact with the same credentials while a scan waits or runs are
// that scan.
func (s *Server) harborScan(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, harbor.MaxRequest))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			harbor.WriteError(w, http.StatusRequestEntityTooLarge, "scan request larger than %d bytes", harbor.MaxRequest)
			return
		}
		harbor.WriteError(w, http.StatusBadRequest, "read the scan request: %v", err)
		return
	}
	t, err := harbor.ParseScanRequest(body)
	if err != nil {
		harbor.WriteError(w, harborStatus(err), "%v", err)
		return
	}
	args := ScanArgs{Image: t.Image, PlainHTTP: t.PlainHTTP, Insecure: s.cfg.HarborInsecure, Reason: "harbor", Harbor: &t.Artifact}
	if t.HasCredentials() {
		if s.key == nil {
			harbor.WriteError(w, http.StatusInternalServerError,
				"this scanner has no secret key to keep registry credentials with: start customs server with --secret-key-file")
			return
		}
		if err := s.sealJobAuth(&args, credentials{Username: t.Username, Password: t.Password, Token: t.Token}); err != nil {
			s.harborInternal(w, r, err)
			return
		}
	}
	res, err := s.jobs.Insert(r.Context(), args, nil)
	if err != nil {
		s.harborInternal(w, r, err)
		return
	}
	s.log.Info("harbor scan request", "image", t.Image, "tag", t.Artifact.Tag, "job", res.Job.ID, "duplicate", res.UniqueSkippedAsDuplicate)
	harbor.WriteJSON(w, http.StatusAccepted, harbor.MimeScanResponse, harbor.ScanResponse{ID: strconv.FormatInt(res.Job.ID, 10)})
}

// unsealString opens credentials sealed and encoded in base64.
func unsealString(key []byte, sealed string) (credentials, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return credentials{}, fmt.Errorf("sealed credentials: %w", err)
	}
	return unseal(key, b)
}

// credentialsID tells credentials apart without revealing them: an
// HMAC-SHA256 with the secret key, shortened.
func credentialsID(key []byte, c credentials) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("harbor scan credentials\x00" + c.Username + "\x00" + c.Password + "\x00" + c.Token))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// harborStatus is the spec's status of a request error.
func harborStatus(err error) int {
	switch {
	case errors.Is(err, harbor.ErrUnsupported):
		return http.StatusNotImplemented
	case errors.Is(err, harbor.ErrInvalid):
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadRequest
}

func (s *Server) harborInternal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	harbor.WriteError(w, http.StatusInternalServerError, "internal error: %v", err)
}

// harborReport answers a scan's report in the type Accept asks for:
// 302 with Refresh-After while it waits or runs, 500 once it failed.
func (s *Server) harborReport(w http.ResponseWriter, r *http.Request) {
	want, err := harbor.Negotiate(r.Header.Get("Accept"), r.URL.Query().Get("sbom_media_type"))
	if err != nil {
		harbor.WriteError(w, harborStatus(err), "%v", err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		harbor.WriteError(w, http.StatusNotFound, "no scan request %q", clipped(r.PathValue("id")))
		return
	}
	st, err := s.scanStatus(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		harbor.WriteError(w, http.StatusNotFound, "no scan request %d", id)
		return
	}
	if err != nil {
		s.harborInternal(w, r, err)
		return
	}
	switch st.Status {
	case StatusQueued, StatusRunning:
		w.Header().Set("Refresh-After", harborRefreshAfter)
		w.WriteHeader(http.StatusFound)
		return
	case StatusFailed, StatusCanceled:
		harbor.WriteError(w, http.StatusInternalServerError, "the scan of %s %s: %s", st.Image, st.Status, st.Error)
		return
	}
	rep, err := s.store.ScanReport(r.Context(), st.Digest, st.Scan)
	if err != nil {
		s.harborInternal(w, r, fmt.Errorf("report of scan %d: %w", st.Scan, err))
		return
	}
	art := s.harborArtifact(r.Context(), id, rep)
	sc := harbor.ScannerOf(rep.Tool.Version)
	switch want.Kind {
	case harbor.KindRaw:
		w.Header().Set("Content-Type", want.ContentType)
		if err := report.Write(w, "json", rep); err != nil {
			s.log.Error("write report", "job", id, "error", err)
		}
	case harbor.KindSBOM:
		sb, err := harbor.SBOMReportOf(rep, art, sc, want.SBOMMedia)
		if err != nil {
			s.harborInternal(w, r, err)
			return
		}
		harbor.WriteJSON(w, http.StatusOK, want.ContentType, sb)
	default:
		vr := harbor.VulnerabilityReportOf(rep, art, sc)
		// The image policy's deny is an entry too, so that Harbor stops
		// what the policy denies.
		v, err := s.Decide(r.Context(), DecideRequest{Image: harborRef(st.Image, art.Tag), Digest: st.Digest, Point: PointHarbor})
		if err != nil {
			s.harborInternal(w, r, fmt.Errorf("the image policy's verdict: %w", err))
			return
		}
		harbor.AddVerdict(&vr, v)
		harbor.WriteJSON(w, http.StatusOK, want.ContentType, vr)
	}
}

// harborRef is the reference the policy matches a Harbor artifact by:
// the scanned REGISTRY/REPOSITORY@DIGEST, with the tag Harbor named.
func harborRef(image, tag string) string {
	repo, digest, ok := strings.Cut(image, "@")
	if !ok || tag == "" {
		return image
	}
	return repo + ":" + tag + "@" + digest
}

// harborArtifact is the artifact a report describes: as the scan request
// named it while its job is kept, else from the report.
func (s *Server) harborArtifact(ctx context.Context, id int64, rep *report.Report) harbor.Artifact {
	if job, err := s.jobs.JobGet(ctx, id); err == nil {
		var args ScanArgs
		if json.Unmarshal(job.EncodedArgs, &args) == nil && args.Harbor != nil {
			return *args.Harbor
		}
	} else if !errors.Is(err, rivertype.ErrNotFound) {
		s.log.Warn("harbor report: read the job", "job", id, "error", err)
	}
	art := harbor.Artifact{Digest: rep.Artifact.Digest}
	if ref, err := name.ParseReference(rep.Artifact.Input, name.WeakValidation); err == nil {
		art.Repository = ref.Context().RepositoryStr()
		if tag, ok := ref.(name.Tag); ok {
			art.Tag = tag.TagStr()
		}
	}
	return art
}

// clipped shortens a client's value for an error message.
func clipped(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
