// Package signature verifies cosign signatures of registry images: the
// signature image stored under the tag sha256-<digest>.sig, whose layers
// are simple-signing payloads carrying the signature in the
// dev.cosignproject.cosign/signature annotation. Signatures are checked
// with sigstore-go against a public key (cosign key-based signing), or
// keyless: against the certificate authority and transparency log of a
// sigstore trusted root, for a given signer identity and OIDC issuer.
package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/customs-scanner/customs/internal/model"
)

// Annotation is the layer annotation that holds a cosign signature.
const Annotation = "dev.cosignproject.cosign/signature"

// Limits on what is read from the registry.
const (
	maxPayload    = 1 << 20
	maxSignatures = 100
)

// Options configure verification.
type Options struct {
	// KeyPath is a PEM public key file (cosign.pub).
	KeyPath string
	// Identity and Issuer select keyless verification: the signing
	// certificate's subject alternative name and OIDC issuer, both exact.
	Identity, Issuer string
	// TrustedRootPath is the sigstore trusted_root.json keyless
	// signatures are verified against (certificate authorities and
	// transparency logs).
	TrustedRootPath string
	// IndexDigest, when the image was resolved through an index, is the
	// index's digest: a signature of the index also vouches for the image
	// (cosign signs the digest a tag points to).
	IndexDigest string
	// Remote are the registry options (credentials, TLS).
	Remote []remote.Option
	// Severity of an unsigned or invalid image (default HIGH).
	Severity model.Severity
}

// Verify checks that the image digestRef (repo@sha256:...) carries a
// cosign signature by the key in opt. It returns nil when one verifies,
// else an integrity finding saying why not.
func Verify(ctx context.Context, digestRef name.Digest, opt Options) (*model.Finding, error) {
	if opt.Severity == "" {
		opt.Severity = model.High
	}
	var check func(sig) error
	switch {
	case opt.KeyPath != "":
		tm, err := keyMaterial(opt.KeyPath)
		if err != nil {
			return nil, err
		}
		check = func(s sig) error { return s.verifyKey(tm) }
	case opt.Identity != "" || opt.Issuer != "":
		k, err := newKeyless(opt.TrustedRootPath, opt.Identity, opt.Issuer)
		if err != nil {
			return nil, err
		}
		check = k.verify
	default:
		return nil, errors.New("--verify-signature needs --cosign-key, or --certificate-identity and --certificate-oidc-issuer with --trusted-root")
	}
	targets := []name.Digest{digestRef}
	if opt.IndexDigest != "" && opt.IndexDigest != digestRef.DigestStr() {
		targets = append(targets, digestRef.Context().Digest(opt.IndexDigest))
	}
	var why []string
	found := 0
	for _, target := range targets {
		sigs, err := fetch(ctx, target, opt.Remote)
		if err != nil {
			return nil, err
		}
		found += len(sigs)
		for _, s := range sigs {
			err := check(s)
			if err == nil {
				err = s.checkPayload(target.DigestStr())
			}
			if err == nil {
				return nil, nil
			}
			why = append(why, err.Error())
		}
	}
	if found == 0 {
		var tags []string
		for _, target := range targets {
			tags = append(tags, SigTag(target).TagStr())
		}
		return finding(opt.Severity, "integrity-unsigned", "Image has no cosign signature", digestRef, "no "+strings.Join(tags, " or ")+" signature image"), nil
	}
	title := "No cosign signature of the image verifies with the given key"
	if opt.KeyPath == "" {
		title = "No cosign signature of the image verifies for identity " + opt.Identity + " from " + opt.Issuer
	}
	return finding(opt.Severity, "integrity-signature-invalid", title, digestRef, strings.Join(why, "; ")), nil
}

// SigTag is the tag cosign stores the signatures of digestRef under.
func SigTag(digestRef name.Digest) name.Tag {
	return digestRef.Context().Tag(strings.Replace(digestRef.DigestStr(), ":", "-", 1) + ".sig")
}

func keyMaterial(path string) (root.TrustedMaterial, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--cosign-key: %w", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("--cosign-key %s: %w", path, err)
	}
	v, err := sigsig.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("--cosign-key %s: %w", path, err)
	}
	key := root.NewExpiringKey(v, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil }), nil
}

// sig is one signature layer: the payload, its signature, and for
// keyless signatures the certificate and transparency log entry.
type sig struct {
	payload   []byte
	signature []byte
	cert      string
	bundle    string
}

// fetch reads the signature image of digestRef; none is no error.
func fetch(ctx context.Context, digestRef name.Digest, opts []remote.Option) ([]sig, error) {
	img, err := remote.Image(SigTag(digestRef), append(opts, remote.WithContext(ctx))...)
	if err != nil {
		var te interface{ Error() string }
		if errors.As(err, &te) && strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "NOT_FOUND") || strings.Contains(err.Error(), "404") {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the signatures of %s: %w", digestRef, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the signatures of %s: %w", digestRef, err)
	}
	var out []sig
	for i, l := range m.Layers {
		if i >= maxSignatures {
			break
		}
		b64, ok := l.Annotations[Annotation]
		if !ok || l.Size > maxPayload {
			continue
		}
		s, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed() // a payload layer is stored as is; reading it whole checks its digest
		if err != nil {
			return nil, err
		}
		p, err := io.ReadAll(io.LimitReader(rc, maxPayload+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading signature payload %s: %w", l.Digest, err)
		}
		out = append(out, sig{payload: p, signature: s,
			cert: bounded(l.Annotations[CertificateAnnotation]), bundle: bounded(l.Annotations[BundleAnnotation])})
	}
	return out, nil
}

// simpleSigning is the part of a simple-signing payload that binds it to
// an image.
type simpleSigning struct {
	Critical struct {
		Image struct {
			Digest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// verifyKey checks the signature over the payload with sigstore-go
// against a public key.
func (s sig) verifyKey(tm root.TrustedMaterial) error {
	if len(s.payload) > maxPayload {
		return errors.New("signature payload too large")
	}
	h := sha256.Sum256(s.payload)
	content := bundle.NewMessageSignature(h[:], "sha256", s.signature)
	if err := verify.VerifySignatureWithArtifacts(content, &bundle.PublicKey{}, tm, []io.Reader{bytes.NewReader(s.payload)}); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

// checkPayload checks that the (verified) payload names digest.
func (s sig) checkPayload(digest string) error {
	p, err := ParsePayload(s.payload)
	if err != nil {
		return err
	}
	if p.Critical.Image.Digest != digest {
		return fmt.Errorf("signed payload names %s, not this image", p.Critical.Image.Digest)
	}
	return nil
}

// bounded drops an annotation value larger than maxAnnotation.
func bounded(v string) string {
	if len(v) > maxAnnotation {
		return ""
	}
	return v
}

// ParsePayload reads a simple-signing payload.
func ParsePayload(b []byte) (*simpleSigning, error) {
	var p simpleSigning
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("signature payload is not simple-signing JSON: %w", err)
	}
	if p.Critical.Type != "cosign container image signature" {
		return nil, fmt.Errorf("signature payload has type %q, not a cosign container image signature", p.Critical.Type)
	}
	return &p, nil
}

func finding(sev model.Severity, id, title string, ref name.Digest, why string) *model.Finding {
	return &model.Finding{Class: model.ClassIntegrity, ID: id, Severity: sev, Title: title,
		Description: why + ". Without a valid signature nothing proves who published this image; sign it with cosign and verify before deploying.",
		Location:    ref.String()}
}
