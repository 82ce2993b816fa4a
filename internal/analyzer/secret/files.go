package secret

import (
	"encoding/json"
	"path"
	"regexp"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

// fileHit is a finding about a sensitive file, by its path and content.
type fileHit struct {
	ID       string
	Title    string
	Severity model.Severity
	Line     int
	// Secret is the credential found in the file ("" when the file itself
	// is the finding).
	Secret string
}

var historyFiles = map[string]bool{
	".bash_history": true, ".zsh_history": true, ".sh_history": true, ".ash_history": true, ".history": true,
	".python_history": true, ".mysql_history": true, ".psql_history": true, ".rediscli_history": true,
	".node_repl_history": true, ".sqlite_history": true, ".lesshst": false,
}

var keystoreExts = map[string]bool{".jks": true, ".keystore": true, ".p12": true, ".pfx": true, ".jceks": true, ".bks": true}

// headerOnly reports whether a path is a finding by its name alone, without
// its content.
func headerOnly(p string) bool {
	return keystoreExts[strings.ToLower(path.Ext(p))]
}

// sensitiveFile checks a file whose path marks it as holding credentials.
// content is nil when only the header was read.
func sensitiveFile(p string, size int64, content []byte) []fileHit {
	base := path.Base(p)
	dir := path.Dir(p)
	text := string(content)
	switch {
	case headerOnly(p):
		return []fileHit{{ID: "keystore-file", Title: "Keystore file (" + strings.TrimPrefix(path.Ext(base), ".") + ") shipped in the image", Severity: model.Medium}}
	case historyFiles[base] && size > 0:
		return []fileHit{{ID: "shell-history", Title: "Command history file shipped in the image", Severity: model.Medium}}
	case base == ".git-credentials":
		return lineValues(text, gitCredential(), "git-credentials", "Git credential store with a password or token", model.High)
	case base == "credentials" && path.Base(dir) == ".aws":
		return lineValues(text, awsSecret(), "aws-credentials-file", "AWS credentials file with a secret access key", model.Critical)
	case base == "application_default_credentials.json" || base == "adc.json" && strings.Contains(p, "gcloud/legacy_credentials/"):
		if strings.Contains(text, `"refresh_token"`) || strings.Contains(text, `"private_key"`) {
			return []fileHit{{ID: "gcloud-credentials", Title: "Google Cloud application default credentials", Severity: model.Critical, Line: 1}}
		}
	case path.Base(dir) == "gcloud" && (base == "credentials.db" || base == "access_tokens.db"):
		return []fileHit{{ID: "gcloud-credentials", Title: "Google Cloud SDK credential database", Severity: model.Critical}}
	case path.Base(dir) == ".azure" && (base == "accessTokens.json" || strings.HasPrefix(base, "msal_token_cache") || base == "service_principal_entries.json"):
		return []fileHit{{ID: "azure-credentials", Title: "Azure CLI token cache or service principal secrets", Severity: model.Critical}}
	case path.Base(dir) == ".azure" && base == "azureProfile.json" && size > 0:
		return []fileHit{{ID: "azure-profile", Title: "Azure CLI profile (subscriptions and signed-in user)", Severity: model.Low}}
	case base == "config.json" && path.Base(dir) == ".docker":
		return dockerConfig(content)
	case base == ".npmrc":
		return lineValues(text, npmToken(), "npmrc-token", "npm configuration with an auth token or password", model.High)
	case base == ".pypirc":
		return lineValues(text, iniPassword(), "pypirc-password", "PyPI configuration with a password", model.High)
	case base == ".netrc" || base == "_netrc":
		return lineValues(text, netrcPassword(), "netrc-password", "netrc file with a password", model.High)
	case isEnvFile(base):
		return envFile(text)
	case isKubeconfig(p, text):
		return lineValues(text, kubeCredential(), "kubeconfig-credentials", "kubeconfig with embedded credentials", model.Critical)
	}
	return nil
}

var (
	gitCredential  = analyzer.Regexp(`^[a-z][a-z0-9+.-]*://[^:/\s]*:([^@\s]+)@`)
	awsSecret      = analyzer.Regexp(`(?i)^\s*aws_(?:secret_access_key|session_token)\s*=\s*(\S+)`)
	npmToken       = analyzer.Regexp(`(?i)(?:_authToken|_auth|_password)\s*=\s*"?([^"\s]+)`)
	iniPassword    = analyzer.Regexp(`(?i)^\s*password\s*[=:]\s*(\S+)`)
	netrcPassword  = analyzer.Regexp(`(?:^|\s)password\s+(\S+)`)
	kubeCredential = analyzer.Regexp(`^\s*-?\s*(?:client-key-data|token|password|auth-provider-token|id-token|refresh-token):\s*"?([^"\s]{8,})`)
	envLine        = analyzer.Regexp(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$`)
	placeholder    = analyzer.Regexp(`(?i)^(?:["']?\s*["']?|\$\{?[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}?|<[^>]*>|x+|\*+|changeme|change_?me|your[_-].*|todo|null|none|example|secret|password)$`)
)

// lineValues reports each line where re's first group captures a value
// that is not a placeholder().
func lineValues(text string, re *regexp.Regexp, id, title string, sev model.Severity) []fileHit {
	var out []fileHit
	for i, l := range strings.Split(text, "\n") {
		if len(l) > 4096 {
			continue
		}
		m := re.FindStringSubmatch(l)
		if m == nil || placeholder().MatchString(m[1]) {
			continue
		}
		out = append(out, fileHit{ID: id, Title: title, Severity: sev, Line: i + 1, Secret: m[1]})
		if len(out) >= 100 {
			break
		}
	}
	return out
}

// dockerConfig reports registry credentials stored in a Docker client
// configuration ("auths" entries with "auth" or "identitytoken").
func dockerConfig(content []byte) []fileHit {
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			IdentityToken string `json:"identitytoken"`
			Password      string `json:"password"`
		} `json:"auths"`
	}
	if json.Unmarshal(content, &cfg) != nil {
		return nil
	}
	var out []fileHit
	for host, a := range cfg.Auths {
		for _, s := range []string{a.Auth, a.IdentityToken, a.Password} {
			if s != "" {
				out = append(out, fileHit{ID: "docker-config-auth", Title: "Docker client configuration with registry credentials for " + host,
					Severity: model.Critical, Line: lineOf(content, s), Secret: s})
				break
			}
		}
	}
	return out
}

func lineOf(b []byte, s string) int {
	i := strings.Index(string(b), s)
	if i < 0 {
		return 0
	}
	return 1 + strings.Count(string(b[:i]), "\n")
}

func isEnvFile(base string) bool {
	if base != ".env" && !strings.HasPrefix(base, ".env.") {
		return false
	}
	switch strings.TrimPrefix(base, ".env.") {
	case "example", "sample", "template", "dist", "defaults", "tpl":
		return false
	}
	return true
}

// notSecretSuffixes end variable names that say where a credential is or
// what it is like, not what it is.
var notSecretSuffixes = []string{"_FILE", "_PATH", "_DIR", "_URL", "_URI", "_ID", "_NAME", "_USER", "_USERNAME", "_HOST", "_PORT",
	"_LENGTH", "_SIZE", "_TTL", "_TIMEOUT", "_EXPIRY", "_EXPIRES", "_ALGORITHM", "_TYPE", "_HEADER", "_ENABLED", "_VERSION"}

// SensitiveKey reports whether a variable name says it holds a credential
// (DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY, SIGNING_KEY), as opposed
// to where one is (PASSWORD_FILE) or a public value (GPG_KEY fingerprints of
// official images, PUBLIC_KEY).
func SensitiveKey(name string) bool {
	n := strings.ToUpper(name)
	if strings.Contains(n, "PUBLIC") || n == "GPG_KEY" || n == "GPG_KEYS" || strings.HasSuffix(n, "_GPG_KEY") {
		return false
	}
	for _, s := range notSecretSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	for _, good := range []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE_KEY", "API_KEY", "APIKEY", "ACCESS_KEY", "AUTH_KEY"} {
		if strings.Contains(n, good) {
			return true
		}
	}
	return strings.HasSuffix(n, "_KEY") || strings.HasSuffix(n, "_PASS") || strings.HasSuffix(n, "_PWD")
}

// envFile reports a dotenv file holding values, and each value of a
// credential-named variable.
func envFile(text string) []fileHit {
	var out []fileHit
	first := 0
	for i, l := range strings.Split(text, "\n") {
		if len(l) > 4096 || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		m := envLine().FindStringSubmatch(l)
		if m == nil {
			continue
		}
		val := strings.Trim(m[2], `"'`)
		if val == "" || placeholder().MatchString(val) {
			continue
		}
		if first == 0 {
			first = i + 1
		}
		if SensitiveKey(m[1]) && len(out) < 100 {
			out = append(out, fileHit{ID: "env-file-secret", Title: "Environment file sets " + m[1], Severity: model.High, Line: i + 1, Secret: val})
		}
	}
	if first > 0 {
		out = append(out, fileHit{ID: "env-file", Title: "Environment (.env) file with values shipped in the image", Severity: model.Low, Line: first})
	}
	return out
}

// isKubeconfig recognises Kubernetes client configurations by name or
// content.
func isKubeconfig(p, text string) bool {
	base := path.Base(p)
	byName := strings.HasSuffix(p, ".kube/config") || base == "kubeconfig" || strings.HasSuffix(base, ".kubeconfig") ||
		(strings.HasPrefix(p, "etc/kubernetes/") && strings.HasSuffix(base, ".conf"))
	if !byName && !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") && base != "config" {
		return false
	}
	return strings.Contains(text, "kind: Config") && strings.Contains(text, "users:")
}
