package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// tlsResult is what the TLS probe learned.
type tlsResult struct {
	// speaksTLS is false when the address answered, but not with TLS.
	speaksTLS bool
	findings  []model.Finding
}

// probeTLS connects to hostport with TLS and inspects the certificate,
// then tries one handshake limited to TLS 1.0-1.1 and one offering only
// weak cipher suites. It sends TLS handshakes only, no HTTP request.
func (a *auditor) probeTLS(ctx context.Context, host, hostport string) (tlsResult, error) {
	var res tlsResult
	conn, err := a.dialTLS(ctx, hostport, &tls.Config{InsecureSkipVerify: true, ServerName: sniName(host)}) //nolint:gosec // the chain is verified below
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) {
			a.c.log("tls", "TLS handshake with "+hostport, "not TLS: "+err.Error())
			return res, nil
		}
		a.c.log("tls", "TLS handshake with "+hostport, "error: "+err.Error())
		return res, err
	}
	state := conn.ConnectionState()
	conn.Close()
	res.speaksTLS = true
	a.c.log("tls", "TLS handshake with "+hostport, fmt.Sprintf("%s, %s", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite)))
	res.findings = append(res.findings, a.certFindings(host, hostport, state.PeerCertificates)...)

	old := &tls.Config{InsecureSkipVerify: true, ServerName: sniName(host), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11} //nolint:gosec // probing for old versions on purpose
	if c, err := a.dialTLS(ctx, hostport, old); err == nil {
		v := tls.VersionName(c.ConnectionState().Version)
		c.Close()
		a.c.log("tls", "TLS 1.0-1.1 handshake with "+hostport, "accepted: "+v)
		res.findings = append(res.findings, finding("registry-tls-old-version", model.High,
			"Registry accepts "+v,
			"TLS versions below 1.2 have known weaknesses. Configure the server for TLS 1.2 and 1.3 only.", hostport, map[string]string{"version": v}))
	} else {
		a.c.log("tls", "TLS 1.0-1.1 handshake with "+hostport, "refused")
	}

	weak := &tls.Config{InsecureSkipVerify: true, ServerName: sniName(host), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, CipherSuites: weakSuites()} //nolint:gosec // probing for weak suites on purpose
	if c, err := a.dialTLS(ctx, hostport, weak); err == nil {
		cs := tls.CipherSuiteName(c.ConnectionState().CipherSuite)
		c.Close()
		a.c.log("tls", "weak-cipher handshake with "+hostport, "accepted: "+cs)
		res.findings = append(res.findings, finding("registry-tls-weak-cipher", model.High,
			"Registry accepts the weak cipher suite "+cs,
			"Cipher suites without forward secrecy or with RC4, 3DES or CBC-mode SHA-1 can be attacked. Offer only AEAD suites with ECDHE.", hostport, map[string]string{"cipher_suite": cs}))
	} else {
		a.c.log("tls", "weak-cipher handshake with "+hostport, "refused")
	}
	return res, nil
}

func (a *auditor) dialTLS(ctx context.Context, hostport string, cfg *tls.Config) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opt.Timeout)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// weakSuites lists the suites Go can offer that are considered weak:
// Go's insecure list plus the static-RSA and CBC-SHA1 suites.
func weakSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.CipherSuites() {
		if strings.Contains(s.Name, "_CBC_") || strings.HasPrefix(s.Name, "TLS_RSA_") {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// sniName is the server name to send: none for an IP address.
func sniName(host string) string {
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

// certFindings checks the peer's chain: trust, self-signature, validity
// period and host name.
func (a *auditor) certFindings(host, hostport string, chain []*x509.Certificate) []model.Finding {
	if len(chain) == 0 {
		return nil
	}
	leaf := chain[0]
	now := a.opt.Now()
	extra := map[string]string{"subject": leaf.Subject.String(), "issuer": leaf.Issuer.String(),
		"not_after": leaf.NotAfter.UTC().Format(time.RFC3339)}
	var out []model.Finding
	switch {
	case now.After(leaf.NotAfter):
		out = append(out, finding("registry-tls-expired", model.High, "Registry certificate expired on "+leaf.NotAfter.UTC().Format("2006-01-02"),
			"Clients must skip verification to talk to this registry, which lets anyone in the path impersonate it. Renew the certificate.", hostport, extra))
	case now.Before(leaf.NotBefore):
		out = append(out, finding("registry-tls-not-yet-valid", model.High, "Registry certificate is not valid before "+leaf.NotBefore.UTC().Format("2006-01-02"),
			"Check the server's clock and the certificate's validity period.", hostport, extra))
	case leaf.NotAfter.Sub(now) < a.opt.ExpiryWarning:
		out = append(out, finding("registry-tls-expiring", model.Medium, "Registry certificate expires on "+leaf.NotAfter.UTC().Format("2006-01-02"),
			"Renew the certificate before it expires, or pulls and pushes will fail or be done without verification.", hostport, extra))
	}
	if hostErr := leaf.VerifyHostname(host); hostErr != nil {
		out = append(out, finding("registry-tls-hostname-mismatch", model.High, "Registry certificate does not name "+host,
			"Clients must skip verification to talk to this registry. Issue a certificate whose subject alternative names include the registry's address.", hostport, extra))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: a.opt.RootCAs, Intermediates: inter, CurrentTime: leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)})
	switch {
	case err == nil:
	case isSelfSigned(leaf):
		out = append(out, finding("registry-tls-self-signed", model.Medium, "Registry certificate is self-signed",
			"Clients either skip verification or each trust this one certificate by hand. Use a certificate from a certificate authority the clients trust.", hostport, extra))
	default:
		out = append(out, finding("registry-tls-untrusted", model.High, "Registry certificate is not issued by a trusted authority",
			"Clients must skip verification to talk to this registry: "+err.Error(), hostport, extra))
	}
	return out
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil || (c.Subject.String() == c.Issuer.String() && len(c.AuthorityKeyId) == 0)
}
