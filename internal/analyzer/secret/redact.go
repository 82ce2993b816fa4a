package secret

import "strings"

// Redact shows the first characters of a secret (four at most, fewer for a
// short secret) followed by a mask, so a reader can recognise a secret
// without learning it.
func Redact(s string) string {
	s = strings.TrimSpace(s)
	n := min(4, len(s)/3)
	// Do not cut a multi-byte character.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "********"
}

// show returns s itself when secrets are shown, else its redaction.
func show(s string, reveal bool) string {
	if reveal {
		return s
	}
	return Redact(s)
}
