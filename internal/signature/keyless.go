package signature

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Annotations of a keyless cosign signature layer besides Annotation.
const (
	// CertificateAnnotation holds the PEM signing certificate.
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	// ChainAnnotation holds the PEM chain up to the root.
	ChainAnnotation = "dev.sigstore.cosign/chain"
	// BundleAnnotation holds the Rekor entry with its signed entry
	// timestamp (RekorBundle JSON).
	BundleAnnotation = "dev.sigstore.cosign/bundle"
)

// maxAnnotation bounds a certificate, chain or bundle annotation.
const maxAnnotation = 64 << 10

// RekorBundle is what cosign stores in BundleAnnotation: a transparency
// log entry and the log's promise to include it.
type RekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"` // base64 of the canonical entry
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"` // hex
	} `json:"Payload"`
}

// ParseRekorBundle reads a BundleAnnotation value into a log entry.
func ParseRekorBundle(s string) (*tlog.Entry, error) {
	if len(s) > maxAnnotation {
		return nil, errors.New("rekor bundle too large")
	}
	var b RekorBundle
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		return nil, fmt.Errorf("rekor bundle is not JSON: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(b.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("rekor bundle body: %w", err)
	}
	logID, err := hex.DecodeString(b.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("rekor bundle log id: %w", err)
	}
	if len(b.SignedEntryTimestamp) == 0 {
		return nil, errors.New("rekor bundle has no signed entry timestamp")
	}
	return tlog.NewEntry(body, b.Payload.IntegratedTime, b.Payload.LogIndex, logID, b.SignedEntryTimestamp, nil)
}

// keyless is what keyless verification checks against: the authorities
// of a trusted root and the identity the signing certificate must name.
type keyless struct {
	verifier *verify.Verifier
	identity verify.CertificateIdentity
}

// newKeyless loads the trusted root at path (sigstore trusted_root.json)
// and the identity policy.
func newKeyless(path, identity, issuer string) (*keyless, error) {
	if identity == "" || issuer == "" {
		return nil, errors.New("keyless verification needs both --certificate-identity and --certificate-oidc-issuer")
	}
	if path == "" {
		return nil, errors.New("keyless verification needs --trusted-root (a sigstore trusted_root.json; customs does not fetch it over the network)")
	}
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("--trusted-root %s: %w", path, err)
	}
	return newKeylessWith(tr, identity, issuer)
}

func newKeylessWith(tm root.TrustedMaterial, identity, issuer string) (*keyless, error) {
	v, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		return nil, err
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", identity, "")
	if err != nil {
		return nil, err
	}
	return &keyless{verifier: v, identity: id}, nil
}

// entity is a keyless cosign signature as sigstore-go verifies it.
type entity struct {
	verify.BaseSignedEntity
	cert  *x509.Certificate
	sig   *bundle.MessageSignature
	entry *tlog.Entry
}

func (e *entity) HasInclusionPromise() bool { return true }
func (e *entity) VerificationContent() (verify.VerificationContent, error) {
	return bundle.NewCertificate(e.cert), nil
}
func (e *entity) SignatureContent() (verify.SignatureContent, error) { return e.sig, nil }
func (e *entity) Timestamps() ([][]byte, error)                      { return nil, nil }
func (e *entity) TlogEntries() ([]*tlog.Entry, error)                { return []*tlog.Entry{e.entry}, nil }

// Version is that of the bundles cosign's legacy signatures correspond
// to: an inclusion promise, no inclusion proof.
func (e *entity) Version() (string, error) { return "v0.1", nil }

// verify checks the signature's certificate chain, identity, log entry
// and signature over the payload.
func (k *keyless) verify(s sig) error {
	if s.cert == "" {
		return errors.New("signature has no certificate (a key-based signature)")
	}
	if s.bundle == "" {
		return errors.New("signature has no transparency log entry")
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(s.cert))
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("signature certificate is not PEM: %v", err)
	}
	entry, err := ParseRekorBundle(s.bundle)
	if err != nil {
		return err
	}
	h := sha256.Sum256(s.payload)
	e := &entity{cert: certs[0], sig: bundle.NewMessageSignature(h[:], "SHA2_256", s.signature), entry: entry}
	if _, err := k.verifier.Verify(e, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(s.payload)), verify.WithCertificateIdentity(k.identity))); err != nil {
		return fmt.Errorf("keyless signature does not verify: %w", err)
	}
	return nil
}
