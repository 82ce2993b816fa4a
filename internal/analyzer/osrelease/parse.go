package osrelease

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// MaxBytes is how much of a release file is read; real ones are a few
// hundred bytes.
const MaxBytes = 64 << 10

// ParseOSRelease reads an os-release file (KEY=value lines, values
// optionally quoted as in a shell) into its variables.
func ParseOSRelease(b []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(head(b)))
	sc.Buffer(nil, MaxBytes)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		vars[k] = unquote(v)
	}
	return vars
}

// unquote undoes shell quoting of an os-release value: double quotes with
// backslash escapes, or single quotes.
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// FromOSRelease turns os-release variables into an OS; ok is false when
// there is no ID.
func FromOSRelease(vars map[string]string) (model.OS, bool) {
	os := model.OS{
		Family:   strings.ToLower(vars["ID"]),
		Version:  vars["VERSION_ID"],
		Codename: vars["VERSION_CODENAME"],
		Name:     vars["PRETTY_NAME"],
	}
	if os.Codename == "" && os.Family == "ubuntu" {
		os.Codename = vars["UBUNTU_CODENAME"]
	}
	if os.Name == "" {
		os.Name = vars["NAME"]
	}
	return os, os.Family != ""
}

// releaseLine matches the one-line release files of Red Hat and its
// relatives: "Rocky Linux release 9.3 (Blue Onyx)".
var releaseLine = regexp.MustCompile(`^(.*?)\s+release\s+(\S+)(?:\s+\((.*)\))?`)

// releaseFamilies maps the product name at the start of a release line to
// its os-release ID; the first prefix that matches wins.
var releaseFamilies = []struct{ prefix, family string }{
	{"Red Hat Enterprise Linux", "rhel"},
	{"CentOS", "centos"},
	{"Rocky Linux", "rocky"},
	{"AlmaLinux", "almalinux"},
	{"Fedora", "fedora"},
	{"Oracle Linux", "ol"},
	{"Amazon Linux", "amzn"},
}

// ParseReleaseLine reads a Red Hat style release file (redhat-release,
// centos-release, rocky-release, almalinux-release, fedora-release,
// system-release).
func ParseReleaseLine(b []byte) (model.OS, bool) {
	line, _, _ := strings.Cut(strings.TrimSpace(string(head(b))), "\n")
	m := releaseLine.FindStringSubmatch(line)
	if m == nil {
		return model.OS{}, false
	}
	for _, f := range releaseFamilies {
		if strings.HasPrefix(m[1], f.prefix) {
			os := model.OS{Family: f.family, Version: m[2], Codename: m[3], Name: strings.TrimSpace(line)}
			if f.family == "amzn" && strings.Contains(m[1], "AMI") {
				os.Codename = "" // Amazon Linux 1: "Amazon Linux AMI release 2018.03"
			}
			return os, true
		}
	}
	return model.OS{}, false
}

// ParseSuSERelease reads the old etc/SuSE-release file:
// "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 3".
func ParseSuSERelease(b []byte) (model.OS, bool) {
	lines := strings.Split(strings.TrimSpace(string(head(b))), "\n")
	if len(lines) == 0 {
		return model.OS{}, false
	}
	title := strings.TrimSpace(lines[0])
	os := model.OS{Name: title}
	switch {
	case strings.HasPrefix(title, "SUSE Linux Enterprise Server"):
		os.Family = "sles"
	case strings.HasPrefix(title, "openSUSE"):
		os.Family = "opensuse"
	default:
		return model.OS{}, false
	}
	var version, patch string
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "VERSION":
			version = strings.TrimSpace(v)
		case "PATCHLEVEL":
			patch = strings.TrimSpace(v)
		}
	}
	if version == "" {
		return model.OS{}, false
	}
	os.Version = version
	if patch != "" && patch != "0" {
		os.Version += "." + patch
	}
	return os, true
}

// ParseDebianVersion reads etc/debian_version: "12.4" gives version "12"
// (the major release, as os-release's VERSION_ID says); a testing or
// unstable system ("trixie/sid") keeps the text as it is.
func ParseDebianVersion(b []byte) (model.OS, bool) {
	v, _, _ := strings.Cut(strings.TrimSpace(string(head(b))), "\n")
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return model.OS{}, false
	}
	return model.OS{Family: "debian", Version: debianMajor(v)}, true
}

// debianMajor returns the major release of a numeric Debian version
// ("12.4" -> "12", "9.13" -> "9"), or v unchanged.
func debianMajor(v string) string {
	major, _, _ := strings.Cut(v, ".")
	if major == "" {
		return v
	}
	for _, c := range major {
		if c < '0' || c > '9' {
			return v
		}
	}
	return major
}

// ParseAlpineRelease reads etc/alpine-release: "3.19.1".
func ParseAlpineRelease(b []byte) (model.OS, bool) {
	v, _, _ := strings.Cut(strings.TrimSpace(string(head(b))), "\n")
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return model.OS{}, false
	}
	return model.OS{Family: "alpine", Version: v}, true
}

func head(b []byte) []byte {
	if len(b) > MaxBytes {
		return b[:MaxBytes]
	}
	return b
}
