package imagecheck

import (
	"path"
	"sort"
	"strings"
)

// SSHDConfigPath is where sshd reads its configuration, in the image.
const SSHDConfigPath = "etc/ssh/sshd_config"

// Bounds on reading a hostile sshd configuration.
const (
	// maxSSHDDepth is OpenSSH's own limit on nested Include (SERVCONF_MAX_DEPTH).
	maxSSHDDepth = 16
	// maxSSHDReads bounds the files read, counting a file each time it is
	// included.
	maxSSHDReads = 256
	// maxSSHDLines bounds the lines read over all files.
	maxSSHDLines = 100000
	// maxSSHDMatches bounds the Match blocks kept.
	maxSSHDMatches = 256
	// maxSSHDGlobs bounds the Include arguments resolved, each against
	// every kept file.
	maxSSHDGlobs = 1024
)

// SSHDSetting is the value sshd obtained for a keyword, and the line it
// came from.
type SSHDSetting struct {
	// Value is the keyword's first argument, Args all of them, as written
	// (made printable, each at most 100 bytes).
	Value string
	Args  []string
	Path  string
	Line  int
}

// SSHDMatch is one Match block: its criteria, where it starts, and the
// first value of each keyword inside it.
type SSHDMatch struct {
	Criteria string
	Path     string
	Line     int
	// Settings holds the first value of each keyword, by lower-case keyword.
	Settings map[string]SSHDSetting
}

// SSHDConfig is an sshd configuration as sshd reads it.
type SSHDConfig struct {
	// Global holds the value that applies to every connection for each
	// keyword set outside Match blocks, by lower-case keyword: the first
	// one read.
	Global map[string]SSHDSetting
	// Matches holds the Match blocks in the order read.
	Matches []SSHDMatch
	// Unresolved lists the Include arguments that matched no file given.
	Unresolved []string
	// Truncated is set when a bound (include depth, files, lines, Include
	// arguments, Match blocks) stopped the reading.
	Truncated bool
}

// ParseSSHD reads the sshd configuration that starts at main, as sshd
// does: a keyword is case-insensitive and separated from its arguments by
// white space or "="; the first value obtained for a keyword wins; Include
// is expanded in place, each argument a glob(3) pattern relative to
// /etc/ssh unless absolute, its matches read in lexical order, resolved
// among files (paths relative to the image root); a Match line starts a
// conditional block that lasts until the next Match line or the end of the
// file that holds it (sshd restores the enclosing context after an
// included file), except "Match all", which returns to the context the file
// was read in. An Include inside a Match block makes the included lines part
// of that block. These rules were checked against `sshd -T` of OpenSSH 9.2.
func ParseSSHD(files map[string][]byte, main string) *SSHDConfig {
	r := &sshdReader{files: files, cfg: &SSHDConfig{Global: map[string]SSHDSetting{}}}
	r.read(main, 0, -1)
	return r.cfg
}

type sshdReader struct {
	files               map[string][]byte
	cfg                 *SSHDConfig
	reads, lines, globs int
}

// read processes the file at p, included at depth; block is the index in
// cfg.Matches of the Match block in force where it is included, or -1.
func (r *sshdReader) read(p string, depth, block int) {
	if depth > maxSSHDDepth || r.reads == maxSSHDReads {
		r.cfg.Truncated = true
		return
	}
	r.reads++
	rest := string(r.files[p])
	cur := block
	n := 0
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		n++
		if r.lines++; r.lines > maxSSHDLines {
			r.cfg.Truncated = true
			return
		}
		kw, args := SSHDLine(line)
		if kw == "challengeresponseauthentication" {
			kw = "kbdinteractiveauthentication" // the old name of the same option
		}
		switch kw {
		case "":
		case "match":
			if len(args) == 1 && strings.EqualFold(args[0], "all") {
				// "Match all" matches every connection, even when sshd
				// reads its global configuration: what follows is in the
				// context the file was included in.
				cur = block
				continue
			}
			if len(r.cfg.Matches) == maxSSHDMatches {
				r.cfg.Truncated = true
				return
			}
			criteria := quote(strings.Join(args, " "))
			if block >= 0 {
				criteria = r.cfg.Matches[block].Criteria + ", then " + criteria
			}
			r.cfg.Matches = append(r.cfg.Matches, SSHDMatch{Criteria: criteria, Path: p, Line: n, Settings: map[string]SSHDSetting{}})
			cur = len(r.cfg.Matches) - 1
		case "include":
			for _, arg := range args {
				if r.globs++; r.globs > maxSSHDGlobs {
					r.cfg.Truncated = true
					return
				}
				matches := r.glob(arg)
				if len(matches) == 0 && len(r.cfg.Unresolved) < 32 {
					r.cfg.Unresolved = append(r.cfg.Unresolved, quote(arg))
				}
				for _, q := range matches {
					r.read(q, depth+1, cur)
				}
			}
		default:
			settings := r.cfg.Global
			if cur >= 0 {
				settings = r.cfg.Matches[cur].Settings
			}
			if _, seen := settings[kw]; !seen && len(args) > 0 && len(settings) < 1000 {
				for i := range args {
					args[i] = quote(args[i])
				}
				settings[kw] = SSHDSetting{Value: args[0], Args: args, Path: p, Line: n}
			}
		}
	}
}

// glob returns the files that an Include argument names, sorted as glob(3)
// sorts them. A relative argument is relative to /etc/ssh; as with glob(3),
// a wildcard does not match a leading dot.
func (r *sshdReader) glob(arg string) []string {
	pattern := arg
	if !strings.HasPrefix(pattern, "/") {
		pattern = "/etc/ssh/" + pattern
	}
	pattern = strings.TrimPrefix(path.Clean(pattern), "/")
	if _, err := path.Match(pattern, ""); err != nil {
		return nil
	}
	dotOK := strings.HasPrefix(path.Base(pattern), ".")
	var out []string
	for p := range r.files {
		if ok, _ := path.Match(pattern, p); ok && (dotOK || !strings.HasPrefix(path.Base(p), ".")) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// SSHDLine splits one line of sshd_config into its lower-case keyword and
// its arguments, the way sshd does: leading white space is skipped, a line
// or an unquoted word that starts with '#' begins a comment, the keyword
// ends at white space or '=', one '=' may separate it from the arguments,
// and arguments may be quoted with " or ' (a backslash escapes a quote, a
// backslash, or a space outside quotes). A blank or comment line returns "".
func SSHDLine(s string) (keyword string, args []string) {
	s = strings.TrimLeft(s, " \t\r\f\v")
	if s == "" || s[0] == '#' {
		return "", nil
	}
	end := strings.IndexAny(s, " \t\r\f\v=")
	if end < 0 {
		end = len(s)
	}
	keyword, s = strings.ToLower(s[:end]), strings.TrimLeft(s[end:], " \t\r\f\v")
	if strings.HasPrefix(s, "=") {
		s = strings.TrimLeft(s[1:], " \t\r\f\v")
	}
	var word []byte
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
			i++
			word, inWord = append(word, s[i]), true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			word = append(word, c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			if inWord {
				args = append(args, string(word))
				word, inWord = word[:0], false
			}
		case c == '#' && !inWord:
			return keyword, args
		default:
			word, inWord = append(word, c), true
		}
		if len(args) == 64 {
			return keyword, args
		}
	}
	if inWord {
		args = append(args, string(word))
	}
	return keyword, args
}
