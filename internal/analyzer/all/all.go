// Package all lists every analyzer customs ships, in one place, so the
// command line and the tests use the same set.
package all

import (
	"github.com/customs-scanner/customs/internal/analyzer"
)

// Layer returns the layer analyzers for the given scanners ("package",
// "secret", "malware", "config", ...); an empty set means all.
func Layer(scanners map[string]bool) []analyzer.Analyzer {
	var out []analyzer.Analyzer
	for _, e := range layerAnalyzers {
		if len(scanners) == 0 || scanners[e.scanner] {
			out = append(out, e.a)
		}
	}
	return out
}

// Image returns the image-level analyzers for the given scanners.
func Image(scanners map[string]bool) []analyzer.ImageAnalyzer {
	var out []analyzer.ImageAnalyzer
	for _, e := range imageAnalyzers {
		if len(scanners) == 0 || scanners[e.scanner] {
			out = append(out, e.a)
		}
	}
	return out
}

// Scanner names accepted by --scanners.
const (
	ScannerPackage = "package"
	ScannerVuln    = "vuln"
	ScannerSecret  = "secret"
	ScannerMalware = "malware"
	ScannerConfig  = "config"
)

var layerAnalyzers = []struct {
	scanner string
	a       analyzer.Analyzer
}{}

var imageAnalyzers = []struct {
	scanner string
	a       analyzer.ImageAnalyzer
}{}
