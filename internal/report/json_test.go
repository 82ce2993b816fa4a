package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzIndent: for any compact JSON, indent writes what json.Indent does.
func FuzzIndent(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":"c\"}{,:"}],"d":{},"e":[]}`, `"\\"`, `[[[]],{"x":null}]`, `{"s":"\u00e9\\\"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, src) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indent(nil, compact.Bytes()); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("indent(%q) = %q, want %q", compact.Bytes(), got, want.Bytes())
		}
	})
}

// TestJSONIndented: the JSON report is what encoding/json's indenting
// encoder writes.
func TestJSONIndented(t *testing.T) {
	r := sampleReport()
	var got bytes.Buffer
	if err := writeJSON(&got, r); err != nil {
		t.Fatal(err)
	}
	var plain Report
	if err := json.Unmarshal(got.Bytes(), &plain); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&plain); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Contains(got.Bytes(), []byte("\n  \"findings\": [\n    {")) {
		t.Fatalf("got\n%s\nwant\n%s", got.Bytes(), want.Bytes())
	}
}
