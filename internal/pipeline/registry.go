package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/registry"
)

// ScanRegistry scans every image of the registry at addr that opt selects
// (repositories, tags, latest N), each distinct digest once, through the
// same pipeline as a single image: the same analyzers, vulnerability
// data, policy and signature checks. The registry credentials and TLS
// settings come from the pipeline's source options.
func (p *Pipeline) ScanRegistry(ctx context.Context, addr string, opt registry.ScanOptions) (*registry.ScanReport, error) {
	opt.Remote = p.cfg.Source.RemoteOptions(ctx)
	opt.Name = p.cfg.Source.NameOptions()
	opt.Drift = p.drift
	if p.cache != nil {
		opt.StateDir = filepath.Join(p.cfg.CacheDir, "registry-scans")
		vuln := p.useVuln()
		v, err := p.stateVersion(ctx, vuln)
		p.doneVuln(vuln)
		if err != nil {
			return nil, err
		}
		opt.DBVersion = v
	}
	opt.Scan = func(ctx context.Context, ref string) (*registry.ImageResult, error) {
		rep, st, err := p.scan(ctx, ref, p.cfg.Source)
		if rep == nil {
			return nil, err
		}
		r := &registry.ImageResult{Findings: rep.Findings, LayersCached: st.Cached, LayersWalked: st.Walked}
		if rep.Coverage != nil {
			r.Missing = rep.Coverage.Missing
		}
		if rep.Incomplete {
			r.Missing = append(r.Missing, "the scan is incomplete: "+strings.Join(rep.Warnings, "; "))
		}
		return r, err
	}
	return registry.Scan(ctx, addr, opt)
}

// stateVersion fingerprints everything an image's stored registry-scan
// result depends on besides its digest: the database's content, the
// analyzers with their versions and settings, the policy and the
// signature settings. A change to any means a rescan. vuln is the
// vulnerability source of the scan (nil: none).
func (p *Pipeline) stateVersion(ctx context.Context, vuln *vulnSource) (string, error) {
	h := sha256.New()
	if vuln != nil && vuln.db != nil {
		st, err := vuln.db.Fingerprint(ctx)
		if err != nil {
			return "", err
		}
		if err := json.NewEncoder(h).Encode(st); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(h, "%s\n", cache.Key("", p.layers, p.cfg.Limits))
	if err := json.NewEncoder(h).Encode(struct {
		Policy any
		Pull   PullConfig
	}{p.policy, p.cfg.Pull}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// DecideRegistry returns the exit code of a registry scan under g: an
// error when images failed, or when the gate is on and some image's scan
// lacked vulnerability data; g.ExitCode when findings remain.
func (g Gate) DecideRegistry(rep *registry.ScanReport) (int, error) {
	if rep.Stats.Failed > 0 {
		return 0, fmt.Errorf("%d of %d images could not be scanned completely", rep.Stats.Failed, rep.Stats.Images)
	}
	if g.ExitCode == 0 {
		return 0, nil
	}
	// A gate over nothing, or over part of what was asked, proves nothing.
	switch {
	case len(rep.Errors) > 0:
		return 0, fmt.Errorf("%w: %d repositories or tags of %s could not be listed or resolved, so the gate cannot pass: %s",
			ErrMissingData, len(rep.Errors), rep.Registry, rep.Errors[0])
	case rep.Stats.Images == 0:
		return 0, fmt.Errorf("%w: no image of %s matched the repositories and tags asked for, so the gate cannot pass", ErrMissingData, rep.Registry)
	}
	if !g.AllowMissingData {
		for _, im := range rep.Images {
			if len(im.Missing) > 0 {
				return 0, fmt.Errorf("%w for %s@%s, so the gate cannot pass: %s (pass --allow-missing-data to gate on the data there is)",
					ErrMissingData, im.Refs, im.Digest, im.Missing[0])
			}
		}
	}
	if len(rep.Findings) > 0 {
		return g.ExitCode, nil
	}
	return 0, nil
}
