// Package imagesecret finds credentials in an image's metadata: ENV
// variables (by name and by value), labels, the entrypoint and command, and
// the build history's created_by lines (build arguments, password flags,
// credentials in URLs, passwords piped to chpasswd).
package imagesecret

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/secret"
	"github.com/customs-scanner/customs/internal/model"
)

// maxText bounds how much of one metadata value is scanned.
const maxText = 64 << 10

// Analyzer is the image metadata secret analyzer.
type Analyzer struct {
	show bool
	det  func() *secret.Detector
}

// New returns an analyzer using the rules of the file secret analyzer.
func New(opt secret.Options) (*Analyzer, error) {
	det, err := secret.Rules(opt.ConfigPath)
	if err != nil {
		return nil, err
	}
	return &Analyzer{show: opt.ShowSecrets, det: det}, nil
}

// Name implements analyzer.ImageAnalyzer.
func (a *Analyzer) Name() string { return "imagesecret" }

var (
	// Command-line password flags: --password=x, --password x, -p'x' (mysql).
	passwordFlag = analyzer.Regexp(`(?i)(?:^|\s)--?(?:password|passwd|pass|token|secret|api-key|apikey)(?:=|\s+)("[^"]+"|'[^']+'|[^\s;&|]+)`)
	mysqlFlag    = analyzer.Regexp(`(?:^|\s)(?:mysql|mysqladmin|mysqldump|mariadb)\b[^;&|]*\s-p([^\s;&|'"-][^\s;&|]*)`)
	curlUser     = analyzer.Regexp(`(?:^|\s)(?:curl|wget)\b[^;&|]*\s(?:-u|--user|--http-user|--password)[= ]?['"]?([^\s'";&|]+:[^\s'";&|]+|[^\s'";&|]+)`)
	chpasswd     = analyzer.Regexp(`echo\s+(?:-e\s+)?['"]?([A-Za-z0-9._-]+:[^\s'"|]+)['"]?\s*\|\s*(?:/usr/sbin/)?chpasswd`)
	buildArg     = analyzer.Regexp(`^\|\d+ ((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+)`)
)

// AnalyzeImage implements analyzer.ImageAnalyzer.
func (a *Analyzer) AnalyzeImage(ctx context.Context, img *analyzer.Image) ([]model.Finding, error) {
	if img.Config == nil {
		return nil, nil
	}
	var out []model.Finding
	c := img.Config.Config
	for _, kv := range c.Env {
		name, val, _ := strings.Cut(kv, "=")
		loc := "config.Env[" + name + "]"
		out = append(out, a.keyValue(loc, name, val, "ENV")...)
	}
	for name, val := range c.Labels {
		out = append(out, a.keyValue("config.Labels["+name+"]", name, val, "label")...)
	}
	if len(c.Entrypoint) > 0 {
		out = append(out, a.command("config.Entrypoint", strings.Join(c.Entrypoint, " "))...)
	}
	if len(c.Cmd) > 0 {
		out = append(out, a.command("config.Cmd", strings.Join(c.Cmd, " "))...)
	}
	for i, h := range img.Config.History {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		loc := fmt.Sprintf("history[%d]", i)
		cb := h.CreatedBy
		if m := buildArg().FindStringSubmatch(cb); m != nil {
			for _, kv := range strings.Fields(m[1]) {
				name, val, _ := strings.Cut(kv, "=")
				out = append(out, a.keyValue(loc, name, val, "build argument")...)
			}
			cb = cb[len(m[0]):]
		}
		if strings.Contains(cb, "#(nop)") && (strings.Contains(cb, " ENV ") || strings.Contains(cb, " LABEL ")) {
			continue // reported from the configuration
		}
		out = append(out, a.command(loc, cb)...)
	}
	return dedupe(out), nil
}

// keyValue checks a NAME=value pair: a credential-looking name with a real
// value, or a value that a rule recognises.
func (a *Analyzer) keyValue(loc, name, val, what string) []model.Finding {
	val = bound(val)
	var out []model.Finding
	for _, h := range a.det().Scan("", name+"="+val) {
		if strings.HasPrefix(h.RuleID, "generic") && publicName(name) {
			continue
		}
		out = append(out, a.finding(loc, h.RuleID, h.Title+" in "+what+" "+name, h.Severity, h.Secret))
	}
	if len(out) > 0 {
		return out
	}
	if secret.SensitiveKey(name) && !placeholder(val) {
		return []model.Finding{a.finding(loc, "image-"+strings.ReplaceAll(what, " ", "-")+"-secret",
			fmt.Sprintf("%s %s holds a credential", upperFirst(what), name), model.High, val)}
	}
	return nil
}

// publicName reports variables that hold public values which look random:
// release signing key fingerprints (GPG_KEY in official images), checksums.
func publicName(name string) bool {
	n := strings.ToUpper(name)
	if n == "GPG_KEY" || n == "GPG_KEYS" || strings.HasSuffix(n, "_GPG_KEY") || strings.HasSuffix(n, "_GPG_KEYS") || strings.Contains(n, "PUBLIC") {
		return true
	}
	for _, s := range []string{"_SHA256", "_SHA512", "_SHA1", "_MD5", "_CHECKSUM", "_FINGERPRINT", "_VERSION"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// command checks a shell command line.
func (a *Analyzer) command(loc, cmd string) []model.Finding {
	cmd = bound(cmd)
	var out []model.Finding
	for _, h := range a.det().Scan("", cmd) {
		out = append(out, a.finding(loc, h.RuleID, h.Title, h.Severity, h.Secret))
	}
	for _, p := range []struct {
		re    *regexp.Regexp
		id    string
		title string
	}{
		{passwordFlag(), "command-password-flag", "Password or token passed on a command line"},
		{mysqlFlag(), "command-password-flag", "Password passed to a MySQL client with -p"},
		{curlUser(), "command-basic-auth", "Credentials passed to curl or wget"},
		{chpasswd(), "build-chpasswd", "Account password set at build time with chpasswd"},
	} {
		for _, m := range p.re.FindAllStringSubmatch(cmd, 8) {
			v := strings.Trim(m[1], `"'`)
			if placeholder(v) || placeholder(v[strings.IndexByte(v, ':')+1:]) {
				continue
			}
			sev := model.High
			if p.id == "build-chpasswd" {
				sev = model.Critical
			}
			out = append(out, a.finding(loc, p.id, p.title, sev, v))
		}
	}
	return out
}

var placeholderRe = analyzer.Regexp(`(?i)^(?:|\$\{?[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}?|\$\(.*\)|<[^>]*>|x+|\*+|-|changeme|change_?me|your[_-].*|todo|null|none|example|file:.*|/.*|stdin|env:.*)$`)

// placeholder reports values that are not credentials: empty, variable
// references, command substitutions, paths, redactions.
func placeholder(v string) bool {
	return placeholderRe().MatchString(strings.TrimSpace(v))
}

func bound(s string) string {
	if len(s) > maxText {
		return s[:maxText]
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (a *Analyzer) finding(loc, id, title string, sev model.Severity, value string) model.Finding {
	f := model.Finding{
		Class:       model.ClassSecret,
		ID:          id,
		Title:       title,
		Severity:    sev,
		Description: "Image metadata is readable by anyone who can pull the image. Pass credentials at run time (secrets, environment from the orchestrator) or as build secrets, never as ENV, labels, build arguments or command lines.",
		Location:    loc,
	}
	if a.show {
		f.Match = value
	} else {
		f.Match = secret.Redact(value)
	}
	return f
}

// dedupe drops repeated findings of the same secret at the same place (a
// rule and a password flag both matching).
func dedupe(fs []model.Finding) []model.Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := f.Location + "\x00" + f.Match
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}
