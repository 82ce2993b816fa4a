package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/signature"
	"github.com/customs-scanner/customs/internal/source"
)

// pullChecks returns the pull-integrity findings of the image m
// describes: for registry images plain HTTP, a look-alike name and tag
// drift; for every image, when asked, the signature. They are never
// cached: a tag moves and a signature appears or is revoked between scans.
func (p *Pipeline) pullChecks(ctx context.Context, m *source.Meta, src *source.Options) ([]model.Finding, error) {
	var out []model.Finding
	if m.Kind == source.KindRegistry && m.Name != "" {
		if ref, err := name.ParseReference(m.Name, src.NameOptions()...); err == nil {
			if m.PlainHTTP {
				out = append(out, registry.PlainHTTPFinding(m.Name))
			}
			if f := registry.LookAlike(ref); f != nil {
				out = append(out, *f)
			}
			if tag, ok := ref.(name.Tag); ok && p.drift != nil {
				f, err := p.drift.Observe(tag.Name(), m.Digest)
				if err != nil {
					return nil, err
				}
				if f != nil {
					out = append(out, *f)
				}
			}
		}
	}
	if !p.cfg.Pull.VerifySignature {
		return out, nil
	}
	f, err := p.verify(ctx, m, src)
	if err != nil {
		return nil, err
	}
	if f != nil {
		out = append(out, *f)
	}
	return out, nil
}

// verify checks the image's cosign signature in the registry it came
// from. A local image is verified through the registry digest its engine
// recorded; an image with none cannot be verified, which is a finding
// too: a requested verification never passes silently.
func (p *Pipeline) verify(ctx context.Context, m *source.Meta, src *source.Options) (*model.Finding, error) {
	ref, why := registryDigest(m, src.NameOptions())
	if why != "" {
		return &model.Finding{Class: model.ClassIntegrity, ID: "integrity-signature-unverifiable", Severity: model.Critical,
			Title:       "Image signature cannot be verified",
			Description: why + ". --verify-signature needs the image's registry digest to find its cosign signature; scan it by registry reference, or pull it from the registry so the engine records its digest.",
			Location:    m.Input}, nil
	}
	o := p.cfg.Pull.Signature
	o.Remote = src.RemoteOptions(ctx)
	o.IndexDigest = m.IndexDigest
	// The user asked for a signature: a missing or invalid one is as
	// severe as it gets, so no severity filter can hide it.
	o.Severity = model.Critical
	return signature.Verify(ctx, ref, o)
}

// registryDigest returns the registry reference repo@digest that
// identifies the image, or why there is none.
func registryDigest(m *source.Meta, opts []name.Option) (name.Digest, string) {
	switch m.Kind {
	case source.KindRegistry, source.KindContainerd:
		if !strings.HasPrefix(m.Digest, "sha256:") || m.Name == "" {
			return name.Digest{}, fmt.Sprintf("the %s image %s has no registry name and digest", m.Kind, m.Input)
		}
		ref, err := name.ParseReference(m.Name, opts...)
		if err != nil {
			return name.Digest{}, fmt.Sprintf("the image name %q is not a registry reference: %v", m.Name, err)
		}
		return ref.Context().Digest(m.Digest), ""
	case source.KindDocker, source.KindPodman:
		want := ""
		if ref, err := name.ParseReference(m.Name, opts...); err == nil {
			want = ref.Context().Name()
		}
		var first *name.Digest
		for _, rd := range m.RepoDigests {
			d, err := name.NewDigest(rd, opts...)
			if err != nil {
				continue
			}
			if d.Context().Name() == want {
				return d, ""
			}
			if first == nil {
				first = &d
			}
		}
		if first != nil {
			return *first, ""
		}
		return name.Digest{}, fmt.Sprintf("the %s image %s has no registry digest (it was built or loaded locally, never pulled from or pushed to a registry)", m.Kind, m.Input)
	}
	return name.Digest{}, fmt.Sprintf("the image %s comes from a %s, which carries no registry signature", m.Input, m.Kind)
}
