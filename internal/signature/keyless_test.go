package signature_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"

	"github.com/customs-scanner/customs/internal/signature"
)

// keylessAuthority is sigstore-go's in-memory test authority (Fulcio CA,
// Rekor log, CT log, TSA) and its trusted root written as
// trusted_root.json.
func keylessAuthority(t *testing.T) (*ca.VirtualSigstore, string) {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// The test authority keeps its log ids as hex text where a trusted
	// root holds the raw key id: decode them, or the log written to
	// trusted_root.json would not match its own entries.
	logs := map[string]*root.TransparencyLog{}
	for k, l := range vs.RekorLogs() {
		c := *l
		if c.ID, err = hex.DecodeString(string(l.ID)); err != nil {
			t.Fatal(err)
		}
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), vs.CTLogs(),
		vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return vs, p
}

// signKeyless stores a keyless cosign signature of signedDigest under
// target's signature tag, as cosign does: the payload layer with the
// signature, the Fulcio certificate and the Rekor bundle as annotations.
func signKeyless(t *testing.T, vs *ca.VirtualSigstore, target name.Digest, signedDigest, identity, issuer string) {
	t.Helper()
	payload := simpleSigning(target, signedDigest)
	ent, err := vs.Sign(identity, issuer, payload)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	entries, _ := ent.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	var rb signature.RekorBundle
	rb.Payload.Body = base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody())
	rb.Payload.IntegratedTime = tle.GetIntegratedTime()
	rb.Payload.LogIndex = tle.GetLogIndex()
	rb.Payload.LogID = hex.EncodeToString(tle.GetLogId().GetKeyId())
	// The entry does not hand out its signed entry timestamp; the test
	// log signs the same payload again (deterministic content, as Rekor
	// signs it).
	rb.SignedEntryTimestamp, err = vs.RekorSignPayload(tlog.RekorPayload{Body: rb.Payload.Body,
		IntegratedTime: rb.Payload.IntegratedTime, LogIndex: rb.Payload.LogIndex, LogID: rb.Payload.LogID})
	if err != nil {
		t.Fatal(err)
	}
	bundleJSON, _ := json.Marshal(rb)
	storeSignature(t, target, payload, map[string]string{
		signature.Annotation:            base64.StdEncoding.EncodeToString(sc.MessageSignatureContent().Signature()),
		signature.CertificateAnnotation: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})),
		signature.BundleAnnotation:      string(bundleJSON),
	})
}

func TestVerifyKeyless(t *testing.T) {
	push := randomImages(t)
	vs, trustedRoot := keylessAuthority(t)
	other, otherRoot := keylessAuthority(t)
	const id, iss = "release@example.com", "https://accounts.example.com"

	signed, unsigned, copied, foreign := push("signed"), push("unsigned"), push("copied"), push("foreign")
	signKeyless(t, vs, signed, signed.DigestStr(), id, iss)
	signKeyless(t, vs, copied, signed.DigestStr(), id, iss) // a valid signature of another image
	signKeyless(t, other, foreign, foreign.DigestStr(), id, iss)

	ctx := context.Background()
	for _, c := range []struct {
		name     string
		ref      name.Digest
		identity string
		issuer   string
		root     string
		want     string
	}{
		{"valid", signed, id, iss, trustedRoot, ""},
		{"wrong identity", signed, "attacker@example.com", iss, trustedRoot, "integrity-signature-invalid"},
		{"wrong issuer", signed, id, "https://token.actions.githubusercontent.com", trustedRoot, "integrity-signature-invalid"},
		{"unsigned", unsigned, id, iss, trustedRoot, "integrity-unsigned"},
		{"copied signature", copied, id, iss, trustedRoot, "integrity-signature-invalid"},
		{"other authority", foreign, id, iss, trustedRoot, "integrity-signature-invalid"},
		{"other authority trusted", foreign, id, iss, otherRoot, ""},
	} {
		f, err := signature.Verify(ctx, c.ref, signature.Options{Identity: c.identity, Issuer: c.issuer, TrustedRootPath: c.root})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ""
		if f != nil {
			got = f.ID
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q (%v)", c.name, got, c.want, f)
		}
	}
	for _, o := range []signature.Options{{Identity: id, Issuer: iss}, {Identity: id, TrustedRootPath: trustedRoot}} {
		if _, err := signature.Verify(ctx, signed, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// FuzzParseRekorBundle feeds dev.sigstore.cosign/bundle annotations, which
// come from the (untrusted) registry.
func FuzzParseRekorBundle(f *testing.F) {
	f.Add(`{"SignedEntryTimestamp":"MEUCIQ==","Payload":{"body":"e30=","integratedTime":1700000000,"logIndex":1,"logID":"d41d"}}`)
	f.Add(`{"SignedEntryTimestamp":"","Payload":{"body":"!!","logID":"zz"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := signature.ParseRekorBundle(s)
		if err == nil && e == nil {
			t.Fatal("nil entry without error")
		}
	})
}
