package cli

import (
	"context"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/signature"
	"github.com/customs-scanner/customs/internal/source"
)

// pullFlags are the pull-integrity flags of `customs image`.
type pullFlags struct {
	requireDigest   bool
	verifySignature bool
	sig             signature.Options
}

func (p *pullFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&p.requireDigest, "require-digest", false, "refuse registry references without a digest (repo@sha256:...)")
	fl.BoolVar(&p.verifySignature, "verify-signature", false, "require a cosign signature of the image (with --cosign-key, or keyless with --certificate-identity, --certificate-oidc-issuer and --trusted-root)")
	fl.StringVar(&p.sig.KeyPath, "cosign-key", "", "PEM public key cosign signatures must verify with")
	fl.StringVar(&p.sig.Identity, "certificate-identity", "", "keyless: the signing certificate's identity (subject alternative name, exact)")
	fl.StringVar(&p.sig.Issuer, "certificate-oidc-issuer", "", "keyless: the signing certificate's OIDC issuer (exact)")
	fl.StringVar(&p.sig.TrustedRootPath, "trusted-root", "", "keyless: sigstore trusted_root.json (Fulcio authorities, Rekor logs) to verify against; never fetched over the network")
}

// check adds the pull-integrity findings of a registry image to res:
// plain HTTP, look-alike name, tag drift, and the signature when asked.
func (p *pullFlags) check(ctx context.Context, res *scan.Result, src *source.Options, cacheDir string, noCache bool) error {
	m := res.Meta
	if m.Kind != source.KindRegistry || m.Name == "" {
		return nil
	}
	ref, err := name.ParseReference(m.Name, src.NameOptions()...)
	if err != nil {
		return nil
	}
	if m.PlainHTTP {
		res.Findings = append(res.Findings, registry.PlainHTTPFinding(m.Name))
	}
	if f := registry.LookAlike(ref); f != nil {
		res.Findings = append(res.Findings, *f)
	}
	if tag, ok := ref.(name.Tag); ok && !noCache {
		store, err := registry.OpenDriftStore(filepath.Join(cacheDir, "tags.json"))
		if err != nil {
			return err
		}
		f, err := store.Observe(tag.Name(), m.Digest)
		if err != nil {
			return err
		}
		if f != nil {
			res.Findings = append(res.Findings, *f)
		}
	}
	if p.verifySignature {
		o := p.sig
		o.Remote = src.RemoteOptions(ctx)
		o.IndexDigest = m.IndexDigest
		f, err := signature.Verify(ctx, ref.Context().Digest(m.Digest), o)
		if err != nil {
			return err
		}
		if f != nil {
			res.Findings = append(res.Findings, *f)
		}
	}
	return nil
}
