package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// Statement is one OpenVEX statement (https://github.com/openvex/spec).
type Statement struct {
	Vulnerability   string
	Aliases         []string
	Products        []string
	Subcomponents   []string
	Status          string
	Justification   string
	Timestamp       time.Time
	ImpactStatement string
}

type vexDoc struct {
	Context    string         `json:"@context"`
	Timestamp  string         `json:"timestamp"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability   json.RawMessage `json:"vulnerability"`
	Products        []json.RawMessage
	Subcomponents   []json.RawMessage
	Status          string `json:"status"`
	Justification   string `json:"justification"`
	ImpactStatement string `json:"impact_statement"`
	Timestamp       string `json:"timestamp"`
}

// UnmarshalJSON accepts products and subcomponents in both OpenVEX forms:
// strings (v0.0.x) and objects with "@id" (v0.2).
func (s *vexStatement) UnmarshalJSON(b []byte) error {
	type plain vexStatement
	var aux struct {
		plain
		Products      []json.RawMessage `json:"products"`
		Subcomponents []json.RawMessage `json:"subcomponents"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*s = vexStatement(aux.plain)
	s.Products, s.Subcomponents = aux.Products, aux.Subcomponents
	return nil
}

type vexID struct {
	ID          string `json:"@id"`
	Name        string `json:"name"`
	Identifiers struct {
		PURL string `json:"purl"`
	} `json:"identifiers"`
	Aliases       []string          `json:"aliases"`
	Subcomponents []json.RawMessage `json:"subcomponents"`
}

func ids(raw json.RawMessage) (id string, extra []string, subs []json.RawMessage) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil, nil
	}
	var o vexID
	if json.Unmarshal(raw, &o) != nil {
		return "", nil, nil
	}
	id = o.ID
	if id == "" {
		id = o.Name
	}
	if o.Identifiers.PURL != "" {
		extra = append(extra, o.Identifiers.PURL)
	}
	if o.Name != "" && o.Name != id {
		extra = append(extra, o.Name)
	}
	extra = append(extra, o.Aliases...)
	return id, extra, o.Subcomponents
}

// LoadVEX reads an OpenVEX document.
func LoadVEX(name string) ([]Statement, error) {
	data, err := readPolicyFile(name)
	if err != nil {
		return nil, err
	}
	st, err := ParseVEX(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return st, nil
}

// ParseVEX parses an OpenVEX JSON document. Statements are returned in
// timestamp order, so that a later statement overrides an earlier one.
func ParseVEX(data []byte) ([]Statement, error) {
	var doc vexDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if !strings.Contains(doc.Context, "openvex") {
		return nil, fmt.Errorf("not an OpenVEX document (@context %q)", doc.Context)
	}
	docTime, _ := time.Parse(time.RFC3339, doc.Timestamp)
	var out []Statement
	for i, s := range doc.Statements {
		st := Statement{Status: s.Status, Justification: s.Justification, ImpactStatement: s.ImpactStatement, Timestamp: docTime}
		if t, err := time.Parse(time.RFC3339, s.Timestamp); err == nil {
			st.Timestamp = t
		}
		st.Vulnerability, st.Aliases, _ = ids(s.Vulnerability)
		if st.Vulnerability == "" {
			return nil, fmt.Errorf("statement %d: no vulnerability", i+1)
		}
		for _, p := range s.Products {
			id, extra, subs := ids(p)
			st.Products = append(st.Products, append([]string{id}, extra...)...)
			for _, sc := range subs {
				sid, sextra, _ := ids(sc)
				st.Subcomponents = append(st.Subcomponents, append([]string{sid}, sextra...)...)
			}
		}
		for _, sc := range s.Subcomponents {
			sid, sextra, _ := ids(sc)
			st.Subcomponents = append(st.Subcomponents, append([]string{sid}, sextra...)...)
		}
		out = append(out, st)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	return out, nil
}

// vexFor returns the statement that suppresses f: the last applicable
// statement, when its status is not_affected or fixed.
func (p *Policy) vexFor(f model.Finding) *Statement {
	var last *Statement
	for i := range p.VEX {
		s := &p.VEX[i]
		if !idMatches(s.Vulnerability, f) && !anyID(s.Aliases, f) {
			continue
		}
		if p.applies(s, f) {
			last = s
		}
	}
	if last != nil && (last.Status == "not_affected" || last.Status == "fixed") {
		return last
	}
	return nil
}

func anyID(list []string, f model.Finding) bool {
	for _, id := range list {
		if idMatches(id, f) {
			return true
		}
	}
	return false
}

// applies reports whether a statement's products cover the finding: a
// product or subcomponent that is the finding's package, or a product that
// is the image when the statement names no subcomponent.
func (p *Policy) applies(s *Statement, f model.Finding) bool {
	for _, sc := range s.Subcomponents {
		if sc != "" && packageMatches(sc, f) {
			return true
		}
	}
	for _, prod := range s.Products {
		if prod != "" && packageMatches(prod, f) {
			return true
		}
		if len(s.Subcomponents) == 0 && p.isImage(prod) {
			return true
		}
	}
	return false
}

func unescaped(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

func (p *Policy) isImage(id string) bool {
	if id == "" {
		return false
	}
	for _, name := range p.Image {
		if name == "" {
			continue
		}
		if id == name || strings.HasPrefix(id, "pkg:oci/") && strings.Contains(unescaped(id), name) {
			return true
		}
	}
	return false
}
