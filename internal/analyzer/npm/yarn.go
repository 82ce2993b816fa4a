package npm

import (
	"bytes"
	"errors"
	"sort"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// ParseYarnLock reads yarn.lock, classic (v1, its own format) or berry
// (YAML), line by line: an unindented "specs:" line opens an entry whose
// indented "version" and "resolution" lines follow. Berry entries are kept
// only when resolved from the registry ("name@npm:1.2.3"); classic entries
// pinned to files, links or workspaces are left out.
func ParseYarnLock(b []byte) ([]model.Package, error) {
	berry := bytes.Contains(b, []byte("\n__metadata:"))
	if !berry && !bytes.Contains(b, []byte("# yarn lockfile v1")) {
		return nil, errors.New("not a yarn lockfile: no \"# yarn lockfile v1\" header nor berry __metadata")
	}
	var out []model.Package
	seen := map[string]bool{}
	var name, version, resolution string
	flush := func() {
		defer func() { name, version, resolution = "", "", "" }()
		if name == "" || !registryVersion(version) {
			return
		}
		if berry {
			n, proto, ok := splitSpec(resolution)
			if !ok || n != name || !strings.HasPrefix(proto, "npm:") {
				return
			}
		}
		if !seen[name+"@"+version] {
			seen[name+"@"+version] = true
			out = append(out, newPackage(name, version))
		}
	}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		s := strings.TrimRight(string(line), "\r ")
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] != ' ' {
			flush()
			name = entryName(s)
			continue
		}
		if name == "" || strings.HasPrefix(s, "    ") { // nested maps (dependencies)
			continue
		}
		key, val := yarnField(strings.TrimSpace(s))
		switch key {
		case "version":
			version = val
		case "resolution":
			resolution = val
		}
	}
	flush()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// entryName reads the package name from an entry's key line
// (`"@s/a@^1.0.0", "@s/a@^1.1.0":` or `a@npm:^1.0.0:`); it returns "" for
// entries that are not registry packages (workspaces, links, files) and
// for berry's __metadata.
func entryName(s string) string {
	s = strings.TrimSuffix(s, ":")
	first, _, _ := strings.Cut(s, ",")
	first = strings.Trim(strings.TrimSpace(first), `"`)
	name, proto, ok := splitSpec(first)
	if !ok || !validName(name) {
		return ""
	}
	for _, p := range []string{"workspace:", "link:", "portal:", "file:", "patch:", "exec:"} {
		if strings.HasPrefix(proto, p) {
			return ""
		}
	}
	return name
}

// splitSpec splits "name@range" at the "@" that follows the name (a scope
// starts with "@" too).
func splitSpec(s string) (name, rest string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(s[1:], '@')
	if i < 0 {
		return "", "", false
	}
	return s[:i+1], s[i+2:], true
}

// yarnField splits `version "1.2.3"` (classic) or `version: 1.2.3` (berry).
func yarnField(s string) (string, string) {
	k, v, ok := strings.Cut(s, " ")
	if !ok {
		return "", ""
	}
	k = strings.TrimSuffix(k, ":")
	return k, strings.Trim(strings.TrimSpace(v), `"`)
}
