package secret

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"

	"github.com/customs-scanner/customs/internal/model"
)

//go:embed rules.toml
var extraRules string

// replacedRules are default gitleaks rules that customs implements itself:
// private keys are parsed (so encrypted keys are not reported) and
// keystores are recognised by path.
var replacedRules = []string{"private-key", "pkcs12-file"}

// maxConfigBytes bounds a --secret-config file.
const maxConfigBytes = 1 << 20

// Hit is one secret found in a text.
type Hit struct {
	RuleID   string
	Title    string
	Severity model.Severity
	// Line is 1-based.
	Line int
	// Secret is the matched secret, unredacted.
	Secret string
}

// Detector finds secrets in text with gitleaks' rules and customs' own. It
// is safe for concurrent use.
type Detector struct {
	d   *detect.Detector
	pre *prefilter
	// pathAllow holds the path allowlists of a user configuration.
	pathAllow []*config.Allowlist
}

var (
	baseOnce sync.Once
	baseCfg  config.Config
	baseErr  error
	// cache of detectors by configuration file content.
	detMu    sync.Mutex
	detByCfg = map[string]*Detector{}
)

// base returns the default gitleaks configuration with customs' rules, parsed
// once per process.
func base() (config.Config, error) {
	baseOnce.Do(func() {
		// gitleaks logs through a global logger; customs reports itself.
		logging.Logger = logging.Logger.Level(zerolog.Disabled)
		baseCfg, baseErr = parseConfig(config.DefaultConfig)
		if baseErr != nil {
			return
		}
		for _, id := range replacedRules {
			delete(baseCfg.Rules, id)
		}
		// Path allowlists are applied before the file is read (see skipPath).
		for _, a := range baseCfg.Allowlists {
			a.Paths = nil
		}
		var extra config.Config
		if extra, baseErr = parseConfig(extraRules); baseErr != nil {
			return
		}
		merge(&baseCfg, extra)
	})
	return baseCfg, baseErr
}

// parseConfig reads a gitleaks TOML configuration with a private viper
// instance (gitleaks' own loader uses the global one). Extending other
// configurations is not supported: customs always extends the default.
func parseConfig(text string) (cfg config.Config, err error) {
	defer func() {
		// gitleaks compiles rule patterns with MustCompile.
		if p := recover(); p != nil {
			err = fmt.Errorf("invalid rule: %v", p)
		}
	}()
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(text)); err != nil {
		return config.Config{}, err
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, err
	}
	vc.Extend = config.Extend{}
	return vc.Translate()
}

// merge adds the rules, keywords and allowlists of extra to c; a rule with
// the ID of an existing one replaces it.
func merge(c *config.Config, extra config.Config) {
	for id, r := range extra.Rules {
		if _, ok := c.Rules[id]; !ok {
			c.OrderedRules = append(c.OrderedRules, id)
		}
		c.Rules[id] = r
	}
	for k := range extra.Keywords {
		c.Keywords[k] = struct{}{}
	}
	c.Allowlists = append(c.Allowlists, extra.Allowlists...)
}

// LoadDetector returns the detector for the configuration file at path
// (rules and allowlists added to the defaults), or the default detector when
// path is empty. Detectors are built once per configuration and process.
func LoadDetector(path string) (*Detector, error) {
	var text string
	if path != "" {
		b, err := readBounded(path, maxConfigBytes)
		if err != nil {
			return nil, fmt.Errorf("secret config: %w", err)
		}
		text = string(b)
	}
	detMu.Lock()
	defer detMu.Unlock()
	if d, ok := detByCfg[text]; ok {
		return d, nil
	}
	b, err := base()
	if err != nil {
		return nil, fmt.Errorf("secret rules: %w", err)
	}
	cfg := copyConfig(b)
	var pathAllow []*config.Allowlist
	if text != "" {
		user, err := parseConfig(text)
		if err != nil {
			return nil, fmt.Errorf("secret config %s: %w", path, err)
		}
		for _, a := range user.Allowlists {
			if len(a.Paths) > 0 {
				pathAllow = append(pathAllow, &config.Allowlist{Paths: a.Paths})
			}
		}
		merge(&cfg, user)
	}
	kw := map[string][]string{}
	for id, r := range cfg.Rules {
		if r.Regex != nil {
			kw[id] = r.Keywords
		}
	}
	words, needAll := keywordsOf(kw)
	d := &Detector{d: detect.NewDetector(cfg), pre: newPrefilter(words, needAll), pathAllow: pathAllow}
	d.d.MaxDecodeDepth = 0
	detByCfg[text] = d
	return d, nil
}

func copyConfig(c config.Config) config.Config {
	out := c
	out.Rules = make(map[string]config.Rule, len(c.Rules))
	for k, v := range c.Rules {
		out.Rules[k] = v
	}
	out.Keywords = make(map[string]struct{}, len(c.Keywords))
	for k := range c.Keywords {
		out.Keywords[k] = struct{}{}
	}
	out.OrderedRules = append([]string(nil), c.OrderedRules...)
	out.Allowlists = append([]*config.Allowlist(nil), c.Allowlists...)
	return out
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	b := make([]byte, st.Size())
	_, err = f.ReadAt(b, 0)
	if err != nil && st.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// PathAllowed reports whether the user configuration allowlists path.
func (d *Detector) PathAllowed(path string) bool {
	for _, a := range d.pathAllow {
		if a.PathAllowed(path) {
			return true
		}
	}
	return false
}

// Scan returns the secrets in text; path (which may be empty) names the
// file for rules that apply to some paths only.
func (d *Detector) Scan(path, text string) []Hit {
	return d.scan(path, text)
}

// ScanBytes is Scan for bytes: only the lines near a rule keyword are
// handed to the rules.
func (d *Detector) ScanBytes(path string, b []byte) []Hit {
	reduced, ok := d.pre.reduce(b)
	if !ok {
		return nil
	}
	return d.scan(path, string(reduced))
}

func (d *Detector) scan(path, text string) []Hit {
	fs := d.d.Detect(detect.Fragment{Raw: text, FilePath: path})
	out := make([]Hit, 0, len(fs))
	for _, f := range fs {
		r := d.d.Config.Rules[f.RuleID]
		out = append(out, Hit{
			RuleID:   f.RuleID,
			Title:    title(f.Description),
			Severity: severity(f.RuleID, r.Tags),
			Line:     f.StartLine + 1,
			Secret:   strings.Clone(f.Secret),
		})
	}
	return out
}

// title shortens gitleaks' descriptions ("Identified a X, which may ...")
// to their first clause.
func title(desc string) string {
	if i := strings.Index(desc, ", "); i > 0 {
		desc = desc[:i]
	}
	return strings.TrimSuffix(desc, ".")
}

// severity ranks a rule: a severity tag wins; generic rules are MEDIUM and
// every other rule names a specific credential, HIGH.
func severity(id string, tags []string) model.Severity {
	for _, t := range tags {
		switch strings.ToLower(t) {
		case "critical":
			return model.Critical
		case "high":
			return model.High
		case "medium":
			return model.Medium
		case "low":
			return model.Low
		}
	}
	if strings.HasPrefix(id, "generic") || strings.HasPrefix(id, "jwt") {
		return model.Medium
	}
	return model.High
}
