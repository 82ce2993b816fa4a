package imagecheck

import (
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/fsmeta"
	"github.com/customs-scanner/customs/internal/analyzer/shadow"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// sshdDefaults are OpenSSH's values for the keywords the checks read, when
// the configuration does not set them (sshd_config(5)).
var sshdDefaults = map[string]string{
	"permitrootlogin":        "prohibit-password",
	"passwordauthentication": "yes",
	"permitemptypasswords":   "no",
	"authorizedkeysfile":     ".ssh/authorized_keys .ssh/authorized_keys2",
	// Keyboard-interactive authentication asks PAM, when sshd uses it,
	// which asks for the account's password (pam_unix).
	"kbdinteractiveauthentication": "yes",
	"usepam":                       "no",
}

// sshdNames spells the keywords as the manual does, for findings.
var sshdNames = map[string]string{
	"permitrootlogin":              "PermitRootLogin",
	"passwordauthentication":       "PasswordAuthentication",
	"permitemptypasswords":         "PermitEmptyPasswords",
	"kbdinteractiveauthentication": "KbdInteractiveAuthentication",
}

// sshdFacts are what the image holds that the sshd verdicts depend on.
type sshdFacts struct {
	// root's home directory, from etc/passwd ("/root" if unknown).
	rootHome string
	// usable and empty hold the accounts whose password is usable or
	// empty, sorted, root included.
	usable, empty []string
	files         map[string][]byte
	exists        func(string) bool
}

// sshdChecks judges the sshd configuration of an image that has one.
// The global verdicts come from the lines outside Match blocks; each Match
// block is then judged with its values over the global ones, and a verdict
// it makes worse (a finding the global configuration does not have, or a
// higher severity) is reported with the block's criteria in Extra["match"].
func sshdChecks(img *analyzer.Image) []model.Finding {
	if _, ok := img.Files[SSHDConfigPath]; !ok {
		return nil
	}
	cfg := ParseSSHD(img.Files, SSHDConfigPath)
	facts := passwordFacts(img)
	global := sshdVerdicts(func(kw string) (SSHDSetting, bool) { s, ok := cfg.Global[kw]; return s, ok }, facts)
	out := global
	worst := map[string]int{}
	for _, f := range global {
		worst[f.ID] = f.Severity.Rank()
	}
	for _, m := range cfg.Matches {
		get := func(kw string) (SSHDSetting, bool) {
			if s, ok := m.Settings[kw]; ok {
				return s, true
			}
			s, ok := cfg.Global[kw]
			return s, ok
		}
		for _, f := range sshdVerdicts(get, facts) {
			if f.Severity.Rank() <= worst[f.ID] {
				continue
			}
			f.Title += " (in a Match block)"
			f = check.With(f, "match", m.Criteria)
			out = append(out, check.With(f, "match_line", m.Path+":"+strconv.Itoa(m.Line)))
		}
	}
	return out
}

// sshdVerdicts applies the three sshd checks to the settings get returns.
func sshdVerdicts(get func(kw string) (SSHDSetting, bool), facts sshdFacts) []model.Finding {
	value := func(kw string) (string, SSHDSetting) {
		s, ok := get(kw)
		if !ok {
			return sshdDefaults[kw], SSHDSetting{}
		}
		return strings.ToLower(s.Value), s
	}
	// at makes a finding of check id decided by setting s of keyword kw.
	at := func(id, kw string, s SSHDSetting, sev model.Severity) model.Finding {
		f := check.Finding(id)
		f.Severity = sev
		f.Path, f.Line = s.Path, s.Line
		setting := sshdNames[kw] + " " + s.Value
		if s.Path == "" {
			f.Path = SSHDConfigPath
			setting = sshdNames[kw] + " " + sshdDefaults[kw] + " (OpenSSH default: not set)"
		}
		return check.With(f, "setting", setting)
	}
	var out []model.Finding
	rootLogin, rootSetting := value("permitrootlogin")
	switch rootLogin {
	case "yes":
		out = append(out, at(check.SSHDRootLogin, "permitrootlogin", rootSetting, model.High))
	case "prohibit-password", "without-password":
		keys, _ := get("authorizedkeysfile")
		if p := facts.rootKey(keys.Args); p != "" {
			f := at(check.SSHDRootLogin, "permitrootlogin", rootSetting, model.Medium)
			f.Title = "sshd lets root log in with a key baked into the image"
			out = append(out, check.With(f, "authorized_keys", p))
		}
	}
	// sshd refuses root's password unless PermitRootLogin is yes.
	admitted := func(names []string) []string {
		var out []string
		for _, n := range names {
			if n != "root" || rootLogin == "yes" {
				out = append(out, n)
			}
		}
		return out
	}
	// Passwords reach sshd by password authentication, or by
	// keyboard-interactive authentication through PAM: with UsePAM yes,
	// PasswordAuthentication no alone does not stop them.
	pwKeyword := "passwordauthentication"
	pwAuth, pwSetting := value(pwKeyword)
	pwNote := ""
	if pwAuth != "yes" {
		usePAM, pamSetting := value("usepam")
		if kbd, kbdSetting := value("kbdinteractiveauthentication"); usePAM == "yes" && kbd == "yes" {
			pwKeyword, pwAuth, pwSetting = "kbdinteractiveauthentication", kbd, kbdSetting
			pwNote = "KbdInteractiveAuthentication yes, UsePAM yes"
			if pwSetting.Path == "" { // the default decides: point at UsePAM
				pwSetting = pamSetting
				pwNote = "KbdInteractiveAuthentication yes (OpenSSH default: not set), UsePAM yes"
			}
		}
	}
	passwordOn := pwAuth == "yes"
	if passwordOn {
		via := func(f model.Finding) model.Finding {
			if pwNote != "" {
				f = check.With(f, "setting", pwNote)
			}
			return f
		}
		if users := admitted(facts.usable); len(users) > 0 {
			f := via(at(check.SSHDPasswordAuth, pwKeyword, pwSetting, model.High))
			out = append(out, check.With(f, "accounts", names(users)))
		} else if pwSetting.Path != "" && pwKeyword == "passwordauthentication" {
			f := at(check.SSHDPasswordAuth, pwKeyword, pwSetting, model.Low)
			f.Title = "sshd accepts passwords, though no account it would admit has one yet"
			out = append(out, f)
		}
	}
	if emptyOK, s := value("permitemptypasswords"); emptyOK == "yes" {
		users := admitted(facts.empty)
		if passwordOn && len(users) > 0 {
			f := at(check.SSHDEmptyPasswords, "permitemptypasswords", s, model.Critical)
			f.Title = "sshd accepts empty passwords and an account has one"
			out = append(out, check.With(f, "accounts", names(users)))
		} else {
			out = append(out, at(check.SSHDEmptyPasswords, "permitemptypasswords", s, model.High))
		}
	}
	return out
}

// names lists at most ten account names.
func names(users []string) string {
	if len(users) > 10 {
		users = append(users[:10:10], "...")
	}
	return strings.Join(users, ",")
}

// rootKey returns the path of a file among the AuthorizedKeysFile
// arguments (OpenSSH's default when there are none) that holds a key for
// root, or "". A file the fsmeta analyzer does not keep (outside root/.ssh)
// counts when it exists.
func (f sshdFacts) rootKey(files []string) string {
	if len(files) == 0 {
		files = strings.Fields(sshdDefaults["authorizedkeysfile"])
	}
	for _, p := range files {
		if strings.EqualFold(p, "none") {
			return ""
		}
		p = strings.NewReplacer("%%", "%", "%h", f.rootHome, "%u", "root", "%U", "0").Replace(p)
		if !strings.HasPrefix(p, "/") {
			p = f.rootHome + "/" + p
		}
		p = strings.TrimPrefix(path.Clean(p), "/")
		if b, ok := f.files[p]; ok {
			if hasKey(b) {
				return p
			}
			continue
		}
		if !fsmeta.Kept(p) && f.exists != nil && f.exists(p) {
			return p
		}
	}
	return ""
}

// hasKey reports whether an authorized_keys file has a line that is
// neither blank nor a comment.
func hasKey(b []byte) bool {
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			return true
		}
	}
	return false
}

// passwordFacts finds the accounts with a usable or an empty password, as
// sshd (through the C library or PAM's pam_unix) sees them: an account of
// etc/passwd whose password field is "x" has the state its etc/shadow line
// says (locked when it has none), any other password field is itself the
// hash. Without etc/passwd, the accounts of etc/shadow count.
func passwordFacts(img *analyzer.Image) sshdFacts {
	facts := sshdFacts{rootHome: "/root", files: img.Files, exists: img.Exists}
	states := fsmeta.ShadowStates(img.Files["etc/shadow"])
	usable, empty := map[string]bool{}, map[string]bool{}
	add := func(name, state string) {
		switch state {
		case fsmeta.PasswordUsable:
			usable[name] = true
		case fsmeta.PasswordEmpty:
			empty[name] = true
		}
	}
	if b, ok := img.Files["etc/passwd"]; ok {
		seen := map[string]bool{}
		for _, a := range ParsePasswd(b) {
			if seen[a.Name] {
				continue // the C library returns the first entry of a name
			}
			seen[a.Name] = true
			if a.Name == "root" && strings.HasPrefix(a.Home, "/") {
				facts.rootHome = path.Clean(a.Home)
			}
			if a.Password == "x" {
				add(a.Name, states[a.Name])
				continue
			}
			switch (shadow.Account{Hash: a.Password}).State() {
			case shadow.Usable:
				add(a.Name, fsmeta.PasswordUsable)
			case shadow.Empty:
				add(a.Name, fsmeta.PasswordEmpty)
			}
		}
	} else {
		for name, state := range states {
			add(name, state)
		}
	}
	facts.usable, facts.empty = sortedKeys(usable), sortedKeys(empty)
	return facts
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, quote(k))
	}
	sort.Strings(out)
	return out
}

// PasswdEntry is the name, password field and home directory of one line
// of /etc/passwd.
type PasswdEntry struct {
	Name, Password, Home string
}

// ParsePasswd reads the name, password field and home directory of each
// line of an /etc/passwd file that has seven fields, skipping what
// ParseAccounts skips.
func ParsePasswd(b []byte) []PasswdEntry {
	var out []PasswdEntry
	accountLines(b, func(_ int, s string) bool {
		// The C library skips a line without its seven fields.
		if fields := strings.SplitN(s, ":", 7); len(fields) == 7 {
			out = append(out, PasswdEntry{Name: fields[0], Password: fields[1], Home: fields[5]})
		}
		return len(out) < maxAccounts
	})
	return out
}
