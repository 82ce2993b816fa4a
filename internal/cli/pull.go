package cli

import (
	"github.com/spf13/pflag"

	"github.com/customs-scanner/customs/internal/pipeline"
)

// registerPullFlags registers the pull-integrity flags (--require-digest,
// signatures).
func registerPullFlags(fl *pflag.FlagSet, p *pipeline.PullConfig) {
	fl.BoolVar(&p.RequireDigest, "require-digest", false, "refuse registry references without a digest (repo@sha256:...)")
	fl.BoolVar(&p.VerifySignature, "verify-signature", false, "require a cosign signature of the image (with --cosign-key, or keyless with --certificate-identity, --certificate-oidc-issuer and --trusted-root); a local image is verified through the registry digest its engine recorded, and an image without one fails")
	fl.StringVar(&p.Signature.KeyPath, "cosign-key", "", "PEM public key cosign signatures must verify with")
	fl.StringVar(&p.Signature.Identity, "certificate-identity", "", "keyless: the signing certificate's identity (subject alternative name, exact)")
	fl.StringVar(&p.Signature.Issuer, "certificate-oidc-issuer", "", "keyless: the signing certificate's OIDC issuer (exact)")
	fl.StringVar(&p.Signature.TrustedRootPath, "trusted-root", "", "keyless: sigstore trusted_root.json (Fulcio authorities, Rekor logs) to verify against; never fetched over the network")
}
