package shadow

import (
	"bytes"
	"strings"
)

// Limits on what Parse accepts from an untrusted shadow file.
const (
	maxLines     = 10_000
	maxLineBytes = 4096
	maxHashBytes = 512
	maxNameBytes = 256
)

// Account is one line of a shadow file.
type Account struct {
	Name string
	// Hash is the second field as written ("", "*", "!", "!$6$...", "$y$...").
	Hash string
	// Line is the 1-based line number.
	Line int
}

// State classifies an account's password field.
type State int

// Password states.
const (
	// Locked: no password can log in ("*", "!", "!!", "!$6$...", "x").
	Locked State = iota
	// Empty: the field is empty, so login needs no password.
	Empty
	// Usable: a hash that a password can match.
	Usable
)

// State reports whether the account is locked, passwordless or has a usable
// password.
func (a Account) State() State {
	switch {
	case a.Hash == "":
		return Empty
	case a.Hash[0] == '!' || a.Hash[0] == '*' || a.Hash == "x":
		return Locked
	case len(a.Hash) < 13:
		// Too short for any crypt(3) hash (DES is 13 characters): nothing matches it.
		return Locked
	}
	return Usable
}

// Scheme names the hash scheme of a usable password: "yescrypt", "sha512crypt",
// "sha256crypt", "md5crypt", "bcrypt", "descrypt" or "" when unknown.
func (a Account) Scheme() string {
	h := a.Hash
	switch {
	case strings.HasPrefix(h, "$y$"):
		return "yescrypt"
	case strings.HasPrefix(h, "$6$"):
		return "sha512crypt"
	case strings.HasPrefix(h, "$5$"):
		return "sha256crypt"
	case strings.HasPrefix(h, "$1$"):
		return "md5crypt"
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		return "bcrypt"
	case len(h) == 13 && !strings.HasPrefix(h, "$"):
		return "descrypt"
	}
	return ""
}

// Parse reads the accounts of a shadow file. Malformed lines (no colon, an
// empty or overlong name, an overlong line) are skipped; at most maxLines
// lines are read.
func Parse(b []byte) []Account {
	var out []Account
	for n := 1; len(b) > 0 && n <= maxLines; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > maxLineBytes {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || len(name) > maxNameBytes || name[0] == '#' {
			continue
		}
		hash, _, _ := bytes.Cut(rest, []byte(":"))
		if len(hash) > maxHashBytes {
			continue
		}
		out = append(out, Account{Name: string(name), Hash: string(hash), Line: n})
	}
	return out
}
