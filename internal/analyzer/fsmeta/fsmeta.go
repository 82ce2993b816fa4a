// Package fsmeta is a layer analyzer that looks at file metadata: setuid and
// setgid files, world-writable files and directories, remote-access servers
// found by their binary path, busybox binaries with server applets, package
// manager caches and /etc/ld.so.preload. It also keeps small files for the
// image-level checks in package imagecheck: account and super-server files
// (etc/passwd, etc/group, inetd and xinetd files), sshd's configuration
// (etc/ssh/sshd_config and the files of etc/ssh/sshd_config.d), root's
// authorized keys (root/.ssh/authorized_keys and authorized_keys2), and
// etc/shadow redacted to each account's password state (see RedactShadow):
// no password hash is kept or cached.
package fsmeta

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/shadow"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// MaxKeep is the largest file the analyzer keeps for image-level checks.
const MaxKeep = 256 << 10

// MaxSSHDDropIns bounds the files of etc/ssh/sshd_config.d kept per layer.
const MaxSSHDDropIns = 64

// maxBusybox bounds the busybox binaries searched for applet names.
const maxBusybox = 16 << 20

// Analyzer is the fsmeta layer analyzer. The zero value reports every check.
type Analyzer struct {
	skip map[string]bool
}

// New returns the analyzer; checks whose ids are in skip are not reported.
func New(skip map[string]bool) *Analyzer {
	own := map[string]bool{}
	for id := range skip {
		if emits[id] {
			own[id] = true
		}
	}
	return &Analyzer{skip: own}
}

// emits lists the checks this analyzer reports.
var emits = map[string]bool{
	check.SetuidFile: true, check.SetgidFile: true, check.WorldWritable: true,
	check.SSHServer: true, check.TelnetServer: true, check.FTPServer: true, check.RshServer: true,
	check.RemoteDesktop: true, check.InetdInstalled: true, check.SudoInstalled: true,
	check.PackageCache: true, check.LdSoPreload: true,
}

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "fsmeta" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 3 }

// ConfigKey implements analyzer.Configured: the skipped checks change what
// a layer's result holds.
func (a *Analyzer) ConfigKey() string {
	ids := make([]string, 0, len(a.skip))
	for id := range a.skip {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return "skip=" + strings.Join(ids, ",")
}

// Kept reports whether the analyzer keeps the file at p for image-level checks.
func Kept(p string) bool {
	return analyzer.PathIs(p, "etc/passwd", "etc/group", "etc/shadow", "etc/inetd.conf", "etc/xinetd.conf", "etc/ld.so.preload",
		"etc/ssh/sshd_config", "root/.ssh/authorized_keys", "root/.ssh/authorized_keys2") ||
		path.Dir(p) == "etc/xinetd.d" || path.Dir(p) == "etc/inetd.d" || path.Dir(p) == sshdDropIns
}

// sshdDropIns is the directory of sshd configuration drop-in files.
const sshdDropIns = "etc/ssh/sshd_config.d"

// keep stores a kept file in r: etc/shadow redacted, at most MaxSSHDDropIns
// sshd drop-in files per layer, the others as they are.
func keep(f *analyzer.File, r *analyzer.Result) {
	p := f.Path
	switch {
	case p == "etc/shadow":
		r.Keep(p, RedactShadow(f.Content))
	case path.Dir(p) == sshdDropIns:
		n := 0
		for q := range r.Files {
			if path.Dir(q) == sshdDropIns {
				n++
			}
		}
		if n >= MaxSSHDDropIns {
			r.Warn(p, fmt.Sprintf("more than %d files in %s; not checked", MaxSSHDDropIns, sshdDropIns))
			return
		}
		r.Keep(p, f.Content)
	default:
		r.Keep(p, f.Content)
	}
}

// Password states in a redacted shadow file.
const (
	PasswordLocked = "locked"
	PasswordEmpty  = "empty"
	PasswordUsable = "usable"
)

// RedactShadow turns an /etc/shadow file into the form the analyzer keeps:
// one line "name:state" per account, state being locked, empty or usable
// as package shadow classifies the password field. The hashes are dropped.
func RedactShadow(b []byte) []byte {
	var out []byte
	for _, a := range shadow.Parse(b) {
		state := PasswordLocked
		switch a.State() {
		case shadow.Empty:
			state = PasswordEmpty
		case shadow.Usable:
			state = PasswordUsable
		}
		out = fmt.Appendf(out, "%s:%s\n", a.Name, state)
	}
	return out
}

// ShadowStates reads a shadow file redacted by RedactShadow: the password
// state of each account, by name.
func ShadowStates(b []byte) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if name, state, ok := strings.Cut(line, ":"); ok && name != "" {
			if _, seen := m[name]; !seen {
				m[name] = state
			}
		}
	}
	return m
}

// Need implements analyzer.Analyzer.
func (a *Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if e.IsRegular() {
		if Kept(e.Path) {
			if e.Size <= MaxKeep {
				return analyzer.Content
			}
			return analyzer.Header
		}
		if isBusybox(e.Base()) && e.Size <= maxBusybox {
			return analyzer.Content
		}
	}
	if e.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 && !e.Mode.IsDir() && e.Mode&fs.ModeSymlink == 0 {
		if e.IsRegular() {
			return analyzer.Content // its digest tells a package's program from a changed one
		}
		return analyzer.Header
	}
	if worldWritable(e) {
		return analyzer.Header
	}
	if _, ok := serverPaths[normalize(e.Path)]; ok && !e.Mode.IsDir() {
		return analyzer.Header
	}
	if cacheRoot(e) != "" {
		return analyzer.Header
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer.
func (a *Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	e := &f.Entry
	if e.IsRegular() && Kept(e.Path) {
		if f.Content == nil && e.Size > MaxKeep {
			r.Warn(e.Path, fmt.Sprintf("larger than %d bytes; not checked", MaxKeep))
		} else {
			keep(f, r)
			if e.Path == "etc/ld.so.preload" {
				a.preload(f, r)
			}
		}
	}
	if f.Content != nil && isBusybox(e.Base()) {
		a.busybox(f, r)
	}
	if e.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 && !e.Mode.IsDir() && e.Mode&fs.ModeSymlink == 0 {
		a.setid(e, r)
		if f.Content != nil && !f.Truncated {
			r.RecordDigest(e.Path, f.Content)
		}
	}
	if worldWritable(e) {
		kind := "file"
		if e.Mode.IsDir() {
			kind = "directory without the sticky bit"
		}
		a.add(r, fileFinding(check.WorldWritable, e, "kind", kind))
	}
	if id, ok := serverPaths[normalize(e.Path)]; ok && !e.Mode.IsDir() {
		f := fileFinding(id, e, "", "")
		if e.Linkname != "" {
			f = check.With(f, "link_target", e.Linkname)
		}
		a.add(r, f)
	}
	if root := cacheRoot(e); root != "" && !hasCacheFinding(r, root) {
		a.add(r, fileFinding(check.PackageCache, e, "cache", root))
	}
	return nil
}

func (a *Analyzer) add(r *analyzer.Result, f model.Finding) {
	if !a.skip[f.ID] {
		r.Findings = append(r.Findings, f)
	}
}

func fileFinding(id string, e *analyzer.Entry, key, value string) model.Finding {
	f := check.Finding(id)
	f.Path = e.Path
	f = check.With(f, "mode", fmt.Sprintf("%04o", unixMode(e.Mode)))
	if key != "" {
		f = check.With(f, key, value)
	}
	return f
}

// unixMode turns Go's mode bits back into the octal permission bits
// ls and chmod show.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// normalize drops the usr/ and usr/local/ prefixes, so that merged-/usr
// and split layouts match the same table entries.
func normalize(p string) string {
	if q, ok := strings.CutPrefix(p, "usr/local/"); ok {
		return q
	}
	if q, ok := strings.CutPrefix(p, "usr/"); ok {
		return q
	}
	return p
}

// serverPaths maps the normalized path of a server binary to its check.
var serverPaths = map[string]string{
	"sbin/sshd": check.SSHServer, "bin/sshd": check.SSHServer,
	"sbin/dropbear": check.SSHServer, "bin/dropbear": check.SSHServer,
	"bin/dropbearmulti": check.SSHServer, "sbin/dropbearmulti": check.SSHServer,

	"sbin/telnetd": check.TelnetServer, "sbin/in.telnetd": check.TelnetServer,
	"bin/telnetd": check.TelnetServer, "sbin/inetutils-telnetd": check.TelnetServer,
	"sbin/in.telnetd.ssl": check.TelnetServer,

	"sbin/vsftpd": check.FTPServer, "sbin/proftpd": check.FTPServer, "sbin/pure-ftpd": check.FTPServer,
	"sbin/ftpd": check.FTPServer, "sbin/in.ftpd": check.FTPServer, "sbin/inetutils-ftpd": check.FTPServer,
	"sbin/in.tftpd": check.FTPServer, "sbin/tftpd": check.FTPServer, "sbin/atftpd": check.FTPServer,
	"sbin/in.tftpd-hpa": check.FTPServer,

	"sbin/in.rshd": check.RshServer, "sbin/in.rlogind": check.RshServer, "sbin/in.rexecd": check.RshServer,
	"sbin/rshd": check.RshServer, "sbin/rlogind": check.RshServer, "sbin/rexecd": check.RshServer,
	"sbin/inetutils-rshd": check.RshServer, "sbin/inetutils-rlogind": check.RshServer, "sbin/inetutils-rexecd": check.RshServer,

	"bin/Xvnc": check.RemoteDesktop, "bin/Xtigervnc": check.RemoteDesktop, "bin/x11vnc": check.RemoteDesktop,
	"bin/vncserver": check.RemoteDesktop, "bin/tigervncserver": check.RemoteDesktop,
	"bin/x0vncserver": check.RemoteDesktop, "bin/x0tigervncserver": check.RemoteDesktop,
	"bin/Xtightvnc": check.RemoteDesktop, "bin/tightvncserver": check.RemoteDesktop,
	"sbin/xrdp": check.RemoteDesktop, "bin/xrdp": check.RemoteDesktop,

	"sbin/inetd": check.InetdInstalled, "sbin/xinetd": check.InetdInstalled,
	"sbin/inetutils-inetd": check.InetdInstalled, "sbin/rlinetd": check.InetdInstalled,

	"bin/sudo": check.SudoInstalled,
}

// tempDirs may hold world-writable files.
var tempDirs = []string{"tmp", "var/tmp", "dev/shm", "run/lock", "var/lock", "run/shm"}

// worldWritable reports whether e is a world-writable regular file outside
// the temp directories, or a world-writable directory without the sticky
// bit. Links and device nodes are not counted.
func worldWritable(e *analyzer.Entry) bool {
	if e.Mode.Perm()&0o002 == 0 {
		return false
	}
	if e.Mode.IsDir() {
		return e.Mode&fs.ModeSticky == 0
	}
	if !e.Mode.IsRegular() {
		return false
	}
	for _, d := range tempDirs {
		if analyzer.InDir(e.Path, d) {
			return false
		}
	}
	return true
}

// cacheRoot returns the package manager cache directory that holds e, or "".
func cacheRoot(e *analyzer.Entry) string {
	if !e.Mode.IsRegular() {
		return ""
	}
	p := e.Path
	switch {
	case analyzer.InDir(p, "var/lib/apt/lists"):
		if p == "var/lib/apt/lists/lock" || analyzer.InDir(p, "var/lib/apt/lists/partial") {
			return ""
		}
		return "var/lib/apt/lists"
	case analyzer.InDir(p, "var/cache/apt"):
		if strings.HasSuffix(p, ".deb") || strings.HasSuffix(p, ".bin") {
			return "var/cache/apt"
		}
	case analyzer.InDir(p, "var/cache/apk"):
		return "var/cache/apk"
	case analyzer.InDir(p, "var/cache/dnf"):
		return "var/cache/dnf"
	case analyzer.InDir(p, "var/cache/yum"):
		return "var/cache/yum"
	}
	return ""
}

func hasCacheFinding(r *analyzer.Result, root string) bool {
	for i := len(r.Findings) - 1; i >= 0; i-- {
		if r.Findings[i].ID == check.PackageCache && r.Findings[i].Extra["cache"] == root {
			return true
		}
	}
	return false
}

func isBusybox(base string) bool { return base == "busybox" || base == "busybox-extras" }

// busyboxApplets maps a server applet to its check.
var busyboxApplets = []struct{ name, id string }{
	{"telnetd", check.TelnetServer},
	{"ftpd", check.FTPServer},
	{"tftpd", check.FTPServer},
}

// busybox reports server applets compiled into a busybox binary. Busybox
// keeps its applet names as one NUL-separated list, so "\x00telnetd\x00"
// occurs when the applet is built in.
func (a *Analyzer) busybox(f *analyzer.File, r *analyzer.Result) {
	for _, app := range Applets(f.Content) {
		fd := fileFinding(app.id, &f.Entry, "applet", app.name)
		fd.Severity = model.Medium
		fd.Title += " (busybox applet " + app.name + ")"
		a.add(r, fd)
	}
}

// Applets returns the server applets named in a busybox binary's applet list.
func Applets(b []byte) []struct{ name, id string } {
	var out []struct{ name, id string }
	for _, app := range busyboxApplets {
		if bytes.Contains(b, []byte("\x00"+app.name+"\x00")) {
			out = append(out, app)
		}
	}
	return out
}

// preload reports the libraries that /etc/ld.so.preload loads.
func (a *Analyzer) preload(f *analyzer.File, r *analyzer.Result) {
	libs := PreloadLibraries(f.Content)
	if len(libs) == 0 {
		return
	}
	fd := fileFinding(check.LdSoPreload, &f.Entry, "libraries", strings.Join(libs, " "))
	a.add(r, fd)
}

// PreloadLibraries parses ld.so.preload: library names separated by
// white space, with # comments. At most 32 names are returned, each cut to
// 256 bytes.
func PreloadLibraries(b []byte) []string {
	var libs []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, w := range strings.Fields(line) {
			if len(libs) == 32 {
				return libs
			}
			if len(w) > 256 {
				w = w[:256]
			}
			libs = append(libs, printable(w))
		}
	}
	return libs
}

// printable quotes the bytes of s that are not printable, so hostile names
// cannot garble a terminal.
func printable(s string) string {
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
