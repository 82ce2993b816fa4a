package imagecheck

import (
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// serverPackages maps OS package names (dpkg, apk, rpm) to the check that
// their installation triggers.
var serverPackages = map[string]string{
	"openssh-server": check.SSHServer, "openssh-server-pam": check.SSHServer, "dropbear": check.SSHServer,
	"dropbear-bin": check.SSHServer, "dropbear-run": check.SSHServer,

	"telnetd": check.TelnetServer, "inetutils-telnetd": check.TelnetServer, "telnetd-ssl": check.TelnetServer,
	"telnet-server": check.TelnetServer, "krb5-telnetd": check.TelnetServer,

	"vsftpd": check.FTPServer, "proftpd": check.FTPServer, "proftpd-basic": check.FTPServer, "proftpd-core": check.FTPServer,
	"pure-ftpd": check.FTPServer, "inetutils-ftpd": check.FTPServer, "ftpd": check.FTPServer, "ftpd-ssl": check.FTPServer,
	"tftpd": check.FTPServer, "tftpd-hpa": check.FTPServer, "atftpd": check.FTPServer, "tftp-server": check.FTPServer,

	"rsh-server": check.RshServer, "rsh-redone-server": check.RshServer, "inetutils-rshd": check.RshServer,
	"inetutils-rlogind": check.RshServer, "inetutils-rexecd": check.RshServer,

	"tigervnc-standalone-server": check.RemoteDesktop, "tigervnc-scraping-server": check.RemoteDesktop,
	"tigervnc-server": check.RemoteDesktop, "tigervnc-server-minimal": check.RemoteDesktop,
	"x11vnc": check.RemoteDesktop, "tightvncserver": check.RemoteDesktop, "vnc4server": check.RemoteDesktop,
	"xrdp": check.RemoteDesktop,

	"xinetd": check.InetdInstalled, "openbsd-inetd": check.InetdInstalled, "inetutils-inetd": check.InetdInstalled,
	"rlinetd": check.InetdInstalled,

	"sudo": check.SudoInstalled, "sudo-ldap": check.SudoInstalled,
}

// packageChecks reports installed OS packages that provide remote-access
// servers or sudo.
func packageChecks(img *analyzer.Image) []model.Finding {
	var out []model.Finding
	for _, p := range img.Packages {
		if p.Type != model.TypeDeb && p.Type != model.TypeAPK && p.Type != model.TypeRPM {
			continue
		}
		id, ok := serverPackages[p.Name]
		if !ok {
			continue
		}
		f := check.Finding(id)
		f.Package = p.Ref()
		f.InstalledVersion = p.Version
		f.Path = p.Path
		f.LayerDiffID = p.LayerDiffID
		out = append(out, f)
	}
	return out
}

// Service is a service enabled in inetd.conf or an xinetd file.
type Service struct {
	Name string
	Line int
}

// maxServices bounds the services read from one file.
const maxServices = 1000

// ParseInetd returns the enabled services of an inetd.conf: every line that
// is neither blank nor a comment names one in its first field.
func ParseInetd(b []byte) []Service {
	var out []Service
	line := 0
	for s := range strings.SplitSeq(string(b), "\n") {
		line++
		fields := strings.Fields(s)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		out = append(out, Service{Name: fields[0], Line: line})
		if len(out) == maxServices {
			break
		}
	}
	return out
}

// ParseXinetd returns the enabled services of an xinetd file: each
// `service NAME { ... }` block without `disable = yes`.
func ParseXinetd(b []byte) []Service {
	var out []Service
	var cur *Service
	disabled := false
	line := 0
	for s := range strings.SplitSeq(string(b), "\n") {
		line++
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		fields := strings.Fields(s)
		if len(fields) == 0 {
			continue
		}
		switch {
		case cur == nil && fields[0] == "service" && len(fields) >= 2:
			cur = &Service{Name: fields[1], Line: line}
			disabled = false
		case cur != nil && fields[0] == "}":
			if !disabled {
				out = append(out, *cur)
				if len(out) == maxServices {
					return out
				}
			}
			cur = nil
		case cur != nil:
			key, val, ok := strings.Cut(strings.Join(fields, " "), "=")
			if ok && strings.TrimSpace(key) == "disable" && strings.TrimSpace(val) == "yes" {
				disabled = true
			}
		}
	}
	return out
}

// inetdChecks reports services that inetd or xinetd would start.
func inetdChecks(img *analyzer.Image) []model.Finding {
	var out []model.Finding
	add := func(file string, svcs []Service) {
		for _, s := range svcs {
			f := check.Finding(check.InetdService)
			f.Path, f.Line = file, s.Line
			out = append(out, check.With(f, "service", quote(s.Name)))
		}
	}
	var files []string
	for p := range img.Files {
		if p == "etc/inetd.conf" || p == "etc/xinetd.conf" || path.Dir(p) == "etc/inetd.d" || path.Dir(p) == "etc/xinetd.d" {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	for _, p := range files {
		if strings.Contains(p, "xinetd") {
			add(p, ParseXinetd(img.Files[p]))
		} else {
			add(p, ParseInetd(img.Files[p]))
		}
	}
	return out
}

// adminPorts are remote administration ports, with the severity of
// exposing each and what listens there.
var adminPorts = map[int]struct {
	sev  model.Severity
	what string
}{
	21:    {model.High, "FTP"},
	22:    {model.High, "SSH"},
	23:    {model.Critical, "telnet"},
	69:    {model.High, "TFTP"},
	512:   {model.Critical, "rexec"},
	513:   {model.Critical, "rlogin"},
	514:   {model.Critical, "rsh"},
	2375:  {model.Critical, "Docker API without TLS"},
	2376:  {model.High, "Docker API"},
	2379:  {model.High, "etcd client API"},
	3389:  {model.High, "RDP"},
	5900:  {model.High, "VNC"},
	5901:  {model.High, "VNC"},
	5902:  {model.High, "VNC"},
	5903:  {model.High, "VNC"},
	5985:  {model.High, "WinRM"},
	5986:  {model.High, "WinRM"},
	6000:  {model.Medium, "X11"},
	10250: {model.High, "kubelet API"},
}

// portChecks reports EXPOSEd administration ports.
func portChecks(img *analyzer.Image) []model.Finding {
	if img.Config == nil {
		return nil
	}
	var out []model.Finding
	for _, k := range slices.Sorted(maps.Keys(img.Config.Config.ExposedPorts)) {
		num, _, _ := strings.Cut(k, "/")
		port, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		ap, ok := adminPorts[port]
		if !ok {
			continue
		}
		f := check.Finding(check.AdminPort)
		f.Severity = ap.sev
		f.Title += ": " + ap.what
		f.Location = "config.ExposedPorts[" + quote(k) + "]"
		out = append(out, check.With(f, "port", num))
	}
	return out
}

// sensitiveVolumes are paths that should never be declared as volumes.
var sensitiveVolumes = map[string]model.Severity{
	"/": model.Medium, "/etc": model.Medium, "/proc": model.Medium, "/sys": model.Medium,
	"/dev": model.Medium, "/boot": model.Medium, "/lib/modules": model.Medium,
	"/var/lib/docker": model.Medium, "/var/run/docker.sock": model.High, "/run/docker.sock": model.High,
}

// volumeChecks reports VOLUMEs on sensitive paths.
func volumeChecks(img *analyzer.Image) []model.Finding {
	if img.Config == nil {
		return nil
	}
	var out []model.Finding
	for _, k := range slices.Sorted(maps.Keys(img.Config.Config.Volumes)) {
		sev, ok := sensitiveVolumes[path.Clean("/"+k)]
		if !ok {
			continue
		}
		f := check.Finding(check.SensitiveVolume)
		f.Severity = sev
		f.Location = "config.Volumes[" + quote(k) + "]"
		out = append(out, f)
	}
	return out
}

// healthcheckCheck reports an image without a HEALTHCHECK, or with one
// that is disabled.
func healthcheckCheck(img *analyzer.Image) []model.Finding {
	if img.Config == nil {
		return nil
	}
	hc := img.Config.Config.Healthcheck
	if hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		return nil
	}
	f := check.Finding(check.HealthcheckMissing)
	f.Location = "config.Healthcheck"
	return []model.Finding{f}
}
