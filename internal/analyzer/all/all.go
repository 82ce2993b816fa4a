// Package all lists every analyzer customs ships, in one place, so the
// command line and the tests use the same set.
package all

import (
	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/apk"
	"github.com/customs-scanner/customs/internal/analyzer/dotnet"
	"github.com/customs-scanner/customs/internal/analyzer/dpkg"
	"github.com/customs-scanner/customs/internal/analyzer/fsmeta"
	"github.com/customs-scanner/customs/internal/analyzer/gobinary"
	"github.com/customs-scanner/customs/internal/analyzer/imagecheck"
	"github.com/customs-scanner/customs/internal/analyzer/imagesecret"
	"github.com/customs-scanner/customs/internal/analyzer/java"
	"github.com/customs-scanner/customs/internal/analyzer/malware"
	"github.com/customs-scanner/customs/internal/analyzer/npm"
	"github.com/customs-scanner/customs/internal/analyzer/osrelease"
	"github.com/customs-scanner/customs/internal/analyzer/php"
	"github.com/customs-scanner/customs/internal/analyzer/python"
	"github.com/customs-scanner/customs/internal/analyzer/rpm"
	"github.com/customs-scanner/customs/internal/analyzer/ruby"
	"github.com/customs-scanner/customs/internal/analyzer/rust"
	"github.com/customs-scanner/customs/internal/analyzer/secret"
	"github.com/customs-scanner/customs/internal/analyzer/shadow"
)

// Config selects and configures analyzers. The zero value runs every
// scanner with its defaults.
type Config struct {
	// Scanners names the scanners to run ("package", "secret", ...);
	// empty means all.
	Scanners map[string]bool
	// SkipChecks holds configuration check ids not to report (--skip-checks).
	SkipChecks map[string]bool
	// MaxImageAgeDays is the image age beyond which the image-age check
	// fires; zero means its default, negative disables it.
	MaxImageAgeDays int
	// ShowSecrets reveals secrets in findings instead of redacting them
	// (--show-secrets).
	ShowSecrets bool
	// SecretConfig names a gitleaks-format TOML file of extra secret rules
	// and allowlists (--secret-config).
	SecretConfig string
	// PasswordGuessing is how hard /etc/shadow passwords are guessed:
	// "off", "quick" or "deep" (--password-guessing); "" means quick.
	PasswordGuessing string
	// PasswordMemoDir is where the shadow analyzer remembers, across runs,
	// how far guessing each password hash got (e.g. <cache dir>/passwords);
	// "" remembers within the process only.
	PasswordMemoDir string
	// Malware holds the loaded malware detection sources (--clamav-db,
	// --clamd, --yara-rules; see malware.Open); the built-in rules always run.
	Malware malware.Options
}

func (c Config) secretOptions() secret.Options {
	return secret.Options{ShowSecrets: c.ShowSecrets, ConfigPath: c.SecretConfig}
}

func (c Config) wants(scanner string) bool {
	return scanner == scannerAlways || len(c.Scanners) == 0 || c.Scanners[scanner]
}

// scannerAlways marks analyzers that run whatever scanners are selected:
// the operating system is context every report and check needs.
const scannerAlways = "always"

// Layer returns the layer analyzers that cfg selects.
func Layer(cfg Config) ([]analyzer.Analyzer, error) { return pick(cfg, layerAnalyzers) }

// Image returns the image-level analyzers that cfg selects.
func Image(cfg Config) ([]analyzer.ImageAnalyzer, error) { return pick(cfg, imageAnalyzers) }

// entry is one analyzer of the lists below, with the scanner it belongs to.
type entry[T any] struct {
	scanner string
	make    func(Config) (T, error)
}

func pick[T any](cfg Config, entries []entry[T]) ([]T, error) {
	var out []T
	for _, e := range entries {
		if !cfg.wants(e.scanner) {
			continue
		}
		a, err := e.make(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Scanner names accepted by --scanners.
const (
	ScannerPackage = "package"
	ScannerVuln    = "vuln"
	ScannerSecret  = "secret"
	ScannerMalware = "malware"
	ScannerConfig  = "config"
)

// layerAnalyzers lists every layer analyzer with the scanner it belongs to.
// Add one line per analyzer.
var layerAnalyzers = []entry[analyzer.Analyzer]{
	{scannerAlways, func(Config) (analyzer.Analyzer, error) { return osrelease.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return dpkg.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return apk.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return rpm.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return ruby.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return rust.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return php.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return dotnet.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return gobinary.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return npm.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return python.New(), nil }},
	{ScannerPackage, func(Config) (analyzer.Analyzer, error) { return java.New(), nil }},
	{ScannerConfig, func(c Config) (analyzer.Analyzer, error) { return fsmeta.New(c.SkipChecks), nil }},
	{ScannerMalware, func(c Config) (analyzer.Analyzer, error) { return malware.New(c.Malware), nil }},
	{ScannerSecret, func(c Config) (analyzer.Analyzer, error) { return secret.New(c.secretOptions()) }},
	{ScannerSecret, func(c Config) (analyzer.Analyzer, error) {
		opt := shadow.Options{ShowSecrets: c.ShowSecrets, Guessing: c.PasswordGuessing, MemoDir: c.PasswordMemoDir}
		if err := opt.Validate(); err != nil {
			return nil, err
		}
		return shadow.New(opt), nil
	}},
}

// imageAnalyzers lists every image-level analyzer. Add one line per analyzer.
var imageAnalyzers = []entry[analyzer.ImageAnalyzer]{
	{ScannerConfig, func(c Config) (analyzer.ImageAnalyzer, error) {
		return imagecheck.New(imagecheck.Options{Skip: c.SkipChecks, MaxImageAgeDays: c.MaxImageAgeDays}), nil
	}},
	{ScannerSecret, func(c Config) (analyzer.ImageAnalyzer, error) { return imagesecret.New(c.secretOptions()) }},
	{ScannerMalware, func(c Config) (analyzer.ImageAnalyzer, error) { return malware.NewImage(c.Malware.Clamd), nil }},
}
