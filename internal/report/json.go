package report

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("json", writeJSON) }

func writeJSON(w io.Writer, r *Report) error {
	out := *r
	if out.Packages == nil {
		out.Packages = []model.Package{}
	}
	out.Findings = make([]model.Finding, len(r.Findings))
	for i, f := range r.Findings {
		if f.Severity == "" {
			f.Severity = model.Unknown // the zero value, spelled out
		}
		out.Findings[i] = f
	}
	if out.Artifact.Layers == nil {
		out.Artifact.Layers = []model.Layer{}
	}
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return err
	}
	b := indent(make([]byte, 0, compact.Len()*2), bytes.TrimSuffix(compact.Bytes(), []byte("\n")))
	_, err := w.Write(append(b, '\n'))
	return err
}

// indent appends src, compact JSON as encoding/json writes it, to dst
// indented by two spaces, byte for byte as json.Indent(dst, src, "", "  ")
// would, in a fraction of its time: encoding/json validates each byte
// through its scanner, and a report of a thousand findings spent more
// time being indented than being encoded.
func indent(dst, src []byte) []byte {
	depth := 0
	open := false // after '{' or '[': the newline waits, for {} and []
	for i := 0; i < len(src); i++ {
		c := src[i]
		if open && c != '}' && c != ']' {
			open = false
			depth++
			dst = newline(dst, depth)
		}
		switch c {
		case '"':
			// Copy the string through its closing quote.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(src)-1)
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			open = true
			dst = append(dst, c)
		case ',':
			dst = newline(append(dst, c), depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if open {
				open = false
			} else {
				depth--
				dst = newline(dst, depth)
			}
			dst = append(dst, c)
		case ' ', '\t', '\n', '\r':
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func newline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ', ' ')
	}
	return dst
}
