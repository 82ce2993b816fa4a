// Package schematest validates customs' outputs against their JSON Schemas
// in tests: the JSON report against docs/report.schema.json, CycloneDX BOMs
// against the official bom-1.6 schema (with the spdx and jsf schemas it
// references) shipped in the cyclonedx-go module, and SPDX documents
// against the official SPDX 2.3 schema kept in schema/, SARIF logs
// against the SARIF 2.1.0 schema kept in schema/, and the Harbor scanner
// API's documents against the schemas of Harbor's pluggable scanner API
// v1.2, written as JSON Schema in internal/harbor/testdata.
//
// The schemas refer to each other by URL; a loader maps those URLs to the
// local copies, so validation never touches the network.
package schematest

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// spdxSchema is schemas/spdx-schema.json of the SPDX specification
// repository (SPDX 2.3), unchanged.
//
//go:embed schema/spdx-schema.json
var spdxSchema []byte

// sarifSchema is the SARIF 2.1.0 JSON schema (revision rtm.5), unchanged;
// see schema/README.md.
//
//go:embed schema/sarif-2.1.0-rtm.5.json
var sarifSchema []byte

// Schema URLs, as the schemas' $id state them.
const (
	CycloneDXURL = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	SPDXURL      = "http://spdx.org/rdf/terms/2.3"
	ReportURL    = "https://github.com/customs-scanner/customs/docs/report.schema.json"
	SARIFURL     = "https://raw.githubusercontent.com/schemastore/schemastore/master/src/schemas/json/sarif-2.1.0-rtm.5.json"
	HarborURL    = "https://github.com/goharbor/pluggable-scanner-spec/api/spec/scanner-adapter-openapi-v1.2.yaml"
)

// The Harbor scanner API's schemas.
const (
	HarborMetadata            = HarborURL + "#/$defs/ScannerAdapterMetadata"
	HarborScanRequest         = HarborURL + "#/$defs/ScanRequest"
	HarborScanResponse        = HarborURL + "#/$defs/ScanResponse"
	HarborVulnerabilityReport = HarborURL + "#/$defs/HarborVulnerabilityReport"
	HarborSBOMReport          = HarborURL + "#/$defs/HarborSbomReport"
	HarborErrorResponse       = HarborURL + "#/$defs/ErrorResponse"
)

// cycloneDXFiles maps the URLs of the CycloneDX schemas to their files in
// the cyclonedx-go module (whose JSF schema file is named .schemax.json).
var cycloneDXFiles = map[string]string{
	CycloneDXURL: "schema/bom-1.6.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "schema/spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "schema/jsf-0.82.schemax.json",
}

// loader serves schema URLs from local files and refuses every other URL.
type loader struct {
	files map[string]string // URL -> path
	docs  map[string][]byte // URL -> content
}

// Load implements jsonschema.URLLoader.
func (l loader) Load(url string) (any, error) {
	if b, ok := l.docs[url]; ok {
		return jsonschema.UnmarshalJSON(bytes.NewReader(b))
	}
	p, ok := l.files[url]
	if !ok {
		return nil, fmt.Errorf("schema %s: no local copy", url)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

var (
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	initErr error
)

func compile() {
	dir, err := moduleDir("github.com/CycloneDX/cyclonedx-go")
	if err != nil {
		initErr = err
		return
	}
	l := loader{files: map[string]string{ReportURL: filepath.Join(repoRoot(), "docs", "report.schema.json"),
		HarborURL: filepath.Join(repoRoot(), "internal", "harbor", "testdata", "scanner-adapter-v1.2.schema.json")},
		docs: map[string][]byte{SPDXURL: spdxSchema, SARIFURL: sarifSchema}}
	for u, f := range cycloneDXFiles {
		l.files[u] = filepath.Join(dir, filepath.FromSlash(f))
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(l)
	c.AssertFormat()
	schemas = map[string]*jsonschema.Schema{}
	for _, u := range []string{CycloneDXURL, SPDXURL, ReportURL, SARIFURL, HarborMetadata, HarborScanRequest, HarborScanResponse,
		HarborVulnerabilityReport, HarborSBOMReport, HarborErrorResponse} {
		s, err := c.Compile(u)
		if err != nil {
			initErr = fmt.Errorf("compile %s: %w", u, err)
			return
		}
		schemas[u] = s
	}
}

// Validate fails t unless doc (JSON) is valid against the schema at url.
func Validate(t testing.TB, url string, doc []byte) {
	t.Helper()
	if err := Check(url, doc); err != nil {
		t.Fatal(err)
	}
}

// Check returns why doc (JSON) is not valid against the schema at url.
func Check(url string, doc []byte) error {
	once.Do(compile)
	if initErr != nil {
		return initErr
	}
	s, ok := schemas[url]
	if !ok {
		return fmt.Errorf("unknown schema %s", url)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("invalid against %s: %v", url, err)
	}
	return nil
}

// moduleDir returns the directory of module mod in the module cache.
func moduleDir(mod string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
	cmd.Dir = repoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not downloaded", mod)
	}
	return dir, nil
}

// repoRoot is the root of the customs repository.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
