package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"strings"
)

// maxKeyBlocks bounds how many PEM blocks of one file are examined.
const maxKeyBlocks = 64

// keyHit is an unencrypted private key found in a file.
type keyHit struct {
	Kind string // "PEM RSA", "OpenSSH", "PuTTY", ...
	Line int
	// Body is the start of the key material, for the redacted match.
	Body string
}

var pemBegin = []byte("-----BEGIN ")

// privateKeys finds unencrypted private keys: PEM blocks whose type ends in
// "PRIVATE KEY" (not "ENCRYPTED PRIVATE KEY", not with a Proc-Type
// ENCRYPTED header), OpenSSH keys whose cipher is "none", and PuTTY keys
// with "Encryption: none".
func privateKeys(b []byte) []keyHit {
	var out []keyHit
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		rest := b
		for n := 0; n < maxKeyBlocks; n++ {
			i := bytes.Index(rest, pemBegin)
			if i < 0 {
				break
			}
			line := 1 + bytes.Count(b[:len(b)-len(rest)+i], []byte("\n"))
			blk, after := pem.Decode(rest[i:])
			if blk == nil {
				rest = rest[i+len(pemBegin):]
				continue
			}
			rest = after
			if h, ok := pemKey(blk); ok {
				h.Line = line
				out = append(out, h)
			}
		}
	}
	if bytes.HasPrefix(b, []byte("PuTTY-User-Key-File-")) {
		if h, ok := puttyKey(b); ok {
			out = append(out, h)
		}
	}
	return out
}

func pemKey(blk *pem.Block) (keyHit, bool) {
	t := blk.Type
	if !strings.HasSuffix(t, "PRIVATE KEY") || strings.Contains(t, "ENCRYPTED") {
		return keyHit{}, false
	}
	if strings.Contains(blk.Headers["Proc-Type"], "ENCRYPTED") {
		return keyHit{}, false
	}
	body := base64.StdEncoding.EncodeToString(blk.Bytes[:min(len(blk.Bytes), 12)])
	if t == "OPENSSH PRIVATE KEY" {
		if opensshCipher(blk.Bytes) != "none" {
			return keyHit{}, false
		}
		return keyHit{Kind: "OpenSSH", Body: body}, true
	}
	if len(blk.Bytes) < 32 {
		return keyHit{}, false // a stub or a documentation placeholder
	}
	kind := strings.TrimSpace(strings.TrimSuffix(t, "PRIVATE KEY"))
	if kind == "" {
		kind = "PKCS#8"
	}
	return keyHit{Kind: "PEM " + kind, Body: body}, true
}

// opensshCipher reads the cipher name of an openssh-key-v1 key, "" when the
// key is malformed.
func opensshCipher(b []byte) string {
	const magic = "openssh-key-v1\x00"
	if !bytes.HasPrefix(b, []byte(magic)) || len(b) < len(magic)+4 {
		return ""
	}
	b = b[len(magic):]
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) || n > 64 {
		return ""
	}
	return string(b[4 : 4+n])
}

// puttyKey reads a PuTTY .ppk header: unencrypted keys say "Encryption: none".
func puttyKey(b []byte) (keyHit, bool) {
	head := b[:min(len(b), 4096)]
	for _, l := range strings.Split(string(head), "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "Encryption:")
		if !ok {
			continue
		}
		if strings.TrimSpace(v) != "none" {
			return keyHit{}, false
		}
		body := ""
		if i := bytes.Index(head, []byte("Private-Lines:")); i >= 0 {
			if j := bytes.IndexByte(head[i:], '\n'); j >= 0 {
				body = strings.TrimSpace(string(head[i+j+1 : min(len(head), i+j+1+12)]))
			}
		}
		return keyHit{Kind: "PuTTY", Line: 1, Body: body}, true
	}
	return keyHit{}, false
}
