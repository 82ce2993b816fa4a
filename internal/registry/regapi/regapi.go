// Package regapi parses what a registry's HTTP API sends back: the
// WWW-Authenticate challenge, token-realm answers and error bodies. All of
// it comes from the registry under audit, so none of it is trusted: every
// parser takes a bounded byte string and never panics.
package regapi

import (
	"encoding/json"
	"strings"
)

// Challenge is the first challenge of a WWW-Authenticate header.
type Challenge struct {
	// Scheme is lower case: "basic", "bearer", or "" when there is none.
	Scheme string
	// Params are the auth-params (realm, service, scope, error), with
	// lower-case names.
	Params map[string]string
}

// ParseChallenge reads the first challenge of a WWW-Authenticate value.
// Params never holds more entries than h has bytes.
func ParseChallenge(h string) Challenge {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	ch := Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				ch.Params[k] = v[1:]
				break
			}
			ch.Params[k], rest = v[1:1+end], v[2+end:]
		} else {
			val, r, _ := strings.Cut(v, ",")
			ch.Params[k], rest = strings.TrimSpace(val), r
		}
	}
	return ch
}

// ParseToken reads a token realm's answer ({"token": ...} or
// {"access_token": ...}); "" when it holds none.
func ParseToken(body []byte) string {
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &tok) != nil {
		return ""
	}
	if tok.Token != "" {
		return tok.Token
	}
	return tok.AccessToken
}

// maxCodes bounds how many error codes ErrorCodes returns.
const maxCodes = 16

// ErrorCodes reads the codes of a distribution-spec error body
// ({"errors": [{"code": "MANIFEST_INVALID", ...}]}), upper case, at most
// 16; none when the body is not one.
func ErrorCodes(body []byte) []string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	var out []string
	for _, x := range e.Errors {
		if len(out) == maxCodes {
			break
		}
		if x.Code != "" {
			out = append(out, strings.ToUpper(x.Code))
		}
	}
	return out
}
