package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
)

// errTooMany is returned by boundedList when a list has more than MaxEvents
// elements.
var errTooMany = errors.New("too many entries")

// boundedList is a JSON array of at most MaxEvents elements. It decodes the
// elements one by one and stops at the first one too many, so that a body of
// a million tiny elements costs no more than MaxEvents of them.
type boundedList[T any] []T

// UnmarshalJSON implements json.Unmarshaler.
func (l *boundedList[T]) UnmarshalJSON(b []byte) error {
	*l = nil
	if string(b) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return errors.New("not a JSON array")
	}
	for dec.More() {
		if len(*l) == MaxEvents {
			return errTooMany
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*l = append(*l, v)
	}
	return nil
}

// decodeBody decodes a notification body into v, a pointer to a struct,
// refusing bodies that are too large, not one JSON object, or whose lists
// are too long.
func decodeBody(body []byte, v any) error {
	if len(body) > MaxBody {
		return rejectf("body of %d bytes is larger than %d", len(body), MaxBody)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return rejectf("body is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		if errors.Is(err, errTooMany) {
			return rejectf("more than %d entries", MaxEvents)
		}
		return rejectf("invalid JSON: %v", err)
	}
	return nil
}
