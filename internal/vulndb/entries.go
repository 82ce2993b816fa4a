package vulndb

import (
	"encoding/binary"
	"errors"
)

// The affected entries of a record for one package are stored in a compact
// form that decodes much faster than JSON: a sequence of items, each a kind
// byte, a uvarint length and that many bytes. Kinds: 'A' starts an
// affected entry, 'V' is one of its explicit versions, 'R' starts a range
// of the type given, and 'i', 'f', 'l', 'm' are the range's introduced,
// fixed, last_affected and limit events. The package is the row's.

var errEntries = errors.New("malformed affected entries")

func appendItem(b []byte, kind byte, s string) []byte {
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeEntries writes the versions and ranges of entries.
func encodeEntries(entries []Affected) []byte {
	var b []byte
	for _, a := range entries {
		b = append(b, 'A', 0)
		for _, v := range a.Versions {
			b = appendItem(b, 'V', v)
		}
		for _, r := range a.Ranges {
			b = appendItem(b, 'R', r.Type)
			for _, e := range r.Events {
				switch {
				case e.Introduced != "":
					b = appendItem(b, 'i', e.Introduced)
				case e.Fixed != "":
					b = appendItem(b, 'f', e.Fixed)
				case e.LastAffected != "":
					b = appendItem(b, 'l', e.LastAffected)
				case e.Limit != "":
					b = appendItem(b, 'm', e.Limit)
				}
			}
		}
	}
	return b
}

// decodeEntries reads what encodeEntries wrote; pkg becomes each entry's
// package.
func decodeEntries(b []byte, pkg Package) ([]Affected, error) {
	var out []Affected
	for len(b) > 0 {
		kind := b[0]
		n, w := binary.Uvarint(b[1:])
		if w <= 0 || n > uint64(len(b)-1-w) {
			return nil, errEntries
		}
		s := string(b[1+w : 1+w+int(n)])
		b = b[1+w+int(n):]
		if kind == 'A' {
			out = append(out, Affected{Package: pkg})
			continue
		}
		if len(out) == 0 {
			return nil, errEntries
		}
		a := &out[len(out)-1]
		switch kind {
		case 'V':
			a.Versions = append(a.Versions, s)
			continue
		case 'R':
			a.Ranges = append(a.Ranges, Range{Type: s})
			continue
		}
		if len(a.Ranges) == 0 || s == "" { // the encoder writes no empty event
			return nil, errEntries
		}
		r := &a.Ranges[len(a.Ranges)-1]
		switch kind {
		case 'i':
			r.Events = append(r.Events, Event{Introduced: s})
		case 'f':
			r.Events = append(r.Events, Event{Fixed: s})
		case 'l':
			r.Events = append(r.Events, Event{LastAffected: s})
		case 'm':
			r.Events = append(r.Events, Event{Limit: s})
		default:
			return nil, errEntries
		}
	}
	return out, nil
}
