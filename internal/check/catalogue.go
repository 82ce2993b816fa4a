// Package check is the catalogue of customs' image configuration and
// hardening checks: their stable ids, titles, severities, CIS sections and
// remediations, the --skip-checks parser and the constructor of a check's
// finding. It depends on nothing but internal/model, so that the analyzers
// that apply the checks (internal/analyzer/fsmeta in each layer,
// internal/analyzer/imagecheck on the merged image) and the command line
// share one list.
//
// Secrets in ENV or build history and passwords in /etc/shadow are not
// checks of this catalogue: the secret scanner reports them.
package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// Check describes one configuration check.
type Check struct {
	// ID is stable across releases; --skip-checks and ignore files use it.
	ID    string `json:"id"`
	Title string `json:"title"`
	// Severity is the usual severity of the check's findings; some checks
	// raise or lower it per finding (see SeverityNote).
	Severity     model.Severity `json:"severity"`
	SeverityNote string         `json:"severity_note,omitempty"`
	// CIS is the CIS Docker Benchmark (v1.6) section, when one applies.
	CIS string `json:"cis,omitempty"`
	// References names other benchmarks or documents behind the check
	// (a CIS Linux benchmark recommendation, a manual page).
	References []string `json:"references,omitempty"`
	// Remediation says how to fix what the check finds.
	Remediation string `json:"remediation"`
}

// Check ids.
const (
	UserRoot           = "user-root"
	PasswdUID0         = "passwd-uid0"
	PasswdDuplicateUID = "passwd-duplicate-uid"
	GroupDuplicateGID  = "group-duplicate-gid"
	SSHServer          = "ssh-server"
	TelnetServer       = "telnet-server"
	FTPServer          = "ftp-server"
	RshServer          = "rsh-server"
	RemoteDesktop      = "remote-desktop-server"
	InetdInstalled     = "inetd-installed"
	InetdService       = "inetd-service"
	AdminPort          = "admin-port-exposed"
	SudoInstalled      = "sudo-installed"
	SetuidFile         = "setuid-file"
	SetgidFile         = "setgid-file"
	WorldWritable      = "world-writable"
	LdSoPreload        = "ld-so-preload"
	HistoryAddRemote   = "history-add-remote"
	HistoryAddLocal    = "history-add-local"
	HistoryUpdateAlone = "history-update-alone"
	HistoryUpgrade     = "history-pkg-upgrade"
	HistoryPipeToShell = "history-pipe-to-shell"
	HistoryChmod777    = "history-chmod-777"
	PackageCache       = "package-cache"
	HealthcheckMissing = "healthcheck-missing"
	SensitiveVolume    = "sensitive-volume"
	TagLatest          = "tag-latest"
	TagUnpinned        = "tag-unpinned"
	OSEndOfLife        = "os-eol"
	ImageAge           = "image-age"
	SSHDRootLogin      = "sshd-permit-root-login"
	SSHDPasswordAuth   = "sshd-password-authentication"
	SSHDEmptyPasswords = "sshd-permit-empty-passwords"
)

// DefaultMaxImageAgeDays is how old an image may be before image-age fires.
const DefaultMaxImageAgeDays = 365

// sshdManual is the manual page that defines sshd's keywords and defaults.
const sshdManual = "sshd_config(5), OpenSSH"

// cisUnneeded is the CIS section on unnecessary packages.
const cisUnneeded = "4.3"

var catalogue = []Check{
	{ID: UserRoot, Title: "Image runs as root", Severity: model.Medium, CIS: "4.1",
		Remediation: "Create an unprivileged user in the image and switch to it with USER (by name or a non-zero UID)."},
	{ID: PasswdUID0, Title: "Account other than root has UID 0", Severity: model.High,
		Remediation: "Give the account a non-zero UID in /etc/passwd or remove it; only root should have UID 0."},
	{ID: PasswdDuplicateUID, Title: "Several accounts share one UID", Severity: model.Medium,
		Remediation: "Give every account in /etc/passwd its own UID."},
	{ID: GroupDuplicateGID, Title: "Several groups share one GID", Severity: model.Low,
		Remediation: "Give every group in /etc/group its own GID."},
	{ID: SSHServer, Title: "SSH server installed", Severity: model.High, CIS: "5.6",
		Remediation: "Remove the SSH server (openssh-server, dropbear); use `docker exec` or `kubectl exec` to reach a container."},
	{ID: TelnetServer, Title: "Telnet server installed", Severity: model.Critical, CIS: cisUnneeded,
		SeverityNote: "MEDIUM for a busybox binary that merely contains the telnetd applet",
		Remediation:  "Remove the telnet daemon (telnetd, inetutils-telnetd, busybox-extras) or build busybox without the telnetd applet; telnet sends passwords in clear text."},
	{ID: FTPServer, Title: "FTP or TFTP server installed", Severity: model.High, CIS: cisUnneeded,
		SeverityNote: "MEDIUM for a busybox binary that merely contains the ftpd or tftpd applet",
		Remediation:  "Remove the FTP/TFTP server (vsftpd, proftpd, pure-ftpd, ftpd, tftpd); serve files another way."},
	{ID: RshServer, Title: "rsh/rlogin/rexec server installed", Severity: model.Critical, CIS: cisUnneeded,
		Remediation: "Remove the r-services server (rsh-server and the like); they authenticate by host name and send data in clear text."},
	{ID: RemoteDesktop, Title: "VNC or RDP server installed", Severity: model.High, CIS: cisUnneeded,
		Remediation: "Remove the remote-desktop server (tigervnc, x11vnc, xrdp) from the image."},
	{ID: InetdInstalled, Title: "inetd or xinetd super-server installed", Severity: model.Medium, CIS: cisUnneeded,
		Remediation: "Remove the inetd/xinetd super-server; run the one service the container needs directly."},
	{ID: InetdService, Title: "inetd/xinetd service enabled", Severity: model.High, CIS: cisUnneeded,
		Remediation: "Comment out the service in /etc/inetd.conf or set `disable = yes` in its xinetd file, and remove the server."},
	{ID: AdminPort, Title: "Remote administration port exposed", Severity: model.High, CIS: "5.8",
		SeverityNote: "CRITICAL for telnet, r-services and the unencrypted Docker API; MEDIUM for X11",
		Remediation:  "Remove the EXPOSE instruction for the administration port and the service behind it."},
	{ID: SudoInstalled, Title: "sudo installed", Severity: model.Medium, CIS: cisUnneeded,
		Remediation: "Remove sudo; run the container as the user it needs, and do privileged work at build time."},
	{ID: SetuidFile, Title: "File has the setuid bit", Severity: model.High, CIS: "4.8",
		SeverityNote: "LOW for helpers shipped by distribution base packages, CRITICAL for shells and interpreters",
		Remediation:  "Remove the setuid bit (`chmod u-s FILE`) in the Dockerfile unless the container needs it."},
	{ID: SetgidFile, Title: "File has the setgid bit", Severity: model.High, CIS: "4.8",
		SeverityNote: "LOW for helpers shipped by distribution base packages, CRITICAL for shells and interpreters",
		Remediation:  "Remove the setgid bit (`chmod g-s FILE`) in the Dockerfile unless the container needs it."},
	{ID: WorldWritable, Title: "World-writable file or directory", Severity: model.Medium,
		Remediation: "Remove write permission for others (`chmod o-w`), or set the sticky bit on shared directories (`chmod +t`)."},
	{ID: LdSoPreload, Title: "/etc/ld.so.preload loads libraries into every program", Severity: model.High,
		Remediation: "Remove /etc/ld.so.preload; it is a common rootkit hiding place. If a library must be preloaded, set LD_PRELOAD for the one program."},
	{ID: HistoryAddRemote, Title: "ADD fetches a remote URL", Severity: model.Medium, CIS: "4.9",
		SeverityNote: "LOW when ADD --checksum pins the download",
		Remediation:  "Download with curl or wget in a RUN step that verifies a checksum, or use ADD --checksum; prefer COPY for local files."},
	{ID: HistoryAddLocal, Title: "ADD used where COPY would do", Severity: model.Low, CIS: "4.9",
		Remediation: "Use COPY for local files and directories; keep ADD for local archives that must be extracted."},
	{ID: HistoryUpdateAlone, Title: "Package index update without install in the same step", Severity: model.Low, CIS: "4.7",
		Remediation: "Run the index update and the install in one RUN step (`apt-get update && apt-get install -y ...`), so a cached layer cannot hold a stale index."},
	{ID: HistoryUpgrade, Title: "Whole-system package upgrade in the build", Severity: model.Low,
		Remediation: "Use a newer base image instead of upgrading every package in the build; install pinned versions of the packages you need."},
	{ID: HistoryPipeToShell, Title: "Download piped into a shell during the build", Severity: model.High,
		Remediation: "Download the script to a file, verify its checksum or signature, then run it."},
	{ID: HistoryChmod777, Title: "chmod 777 in the build", Severity: model.Medium,
		Remediation: "Grant only the permissions needed (for example 755 for programs, 644 for files) to the user that needs them."},
	{ID: PackageCache, Title: "Package manager cache left in the image", Severity: model.Low,
		Remediation: "Remove the cache in the same RUN step that fills it (`rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, `dnf clean all`)."},
	{ID: HealthcheckMissing, Title: "No HEALTHCHECK", Severity: model.Low, CIS: "4.6",
		Remediation: "Add a HEALTHCHECK instruction that probes the service, so the runtime can notice and replace a broken container."},
	{ID: SensitiveVolume, Title: "VOLUME on a sensitive path", Severity: model.Medium, CIS: "5.5",
		SeverityNote: "HIGH for the Docker socket",
		Remediation:  "Do not declare host system directories or the Docker socket as volumes; mount only application data."},
	{ID: TagLatest, Title: "Image scanned by the mutable tag latest", Severity: model.Medium,
		Remediation: "Refer to the image by a version tag and its digest (name:tag@sha256:...), so what runs is what was scanned."},
	{ID: TagUnpinned, Title: "Image scanned by a tag without a digest pin", Severity: model.Low,
		Remediation: "Pin the image by digest (name:tag@sha256:...); a tag can be moved to different content at any time."},
	{ID: OSEndOfLife, Title: "Operating system release past end of life", Severity: model.High,
		Remediation: "Rebuild on a supported release of the distribution; an end-of-life release gets no security fixes."},
	{ID: ImageAge, Title: "Image older than the allowed age", Severity: model.Low, CIS: "4.4",
		Remediation: "Rebuild the image regularly so it picks up the base image's and packages' security fixes."},
	{ID: SSHDRootLogin, Title: "sshd lets root log in", Severity: model.High, CIS: "5.6",
		SeverityNote: "HIGH for PermitRootLogin yes; MEDIUM for prohibit-password (the OpenSSH default) when a root authorized key is baked into the image",
		References:   []string{"CIS Linux benchmarks: Ensure sshd PermitRootLogin is disabled", sshdManual},
		Remediation:  "Set `PermitRootLogin no` in /etc/ssh/sshd_config (before any other PermitRootLogin line: sshd keeps the first value it reads) and remove keys from /root/.ssh/authorized_keys; better, remove the SSH server."},
	{ID: SSHDPasswordAuth, Title: "sshd accepts passwords and an account has one", Severity: model.High, CIS: "5.6",
		SeverityNote: "LOW when PasswordAuthentication yes is set explicitly but no account that sshd would admit has a usable password",
		References:   []string{sshdManual},
		Remediation:  "Set `PasswordAuthentication no` (first in sshd_config or a drop-in it includes first) and lock the accounts' passwords (`passwd -l`); use keys or, better, remove the SSH server."},
	{ID: SSHDEmptyPasswords, Title: "sshd accepts empty passwords", Severity: model.High, CIS: "5.6",
		SeverityNote: "CRITICAL when password authentication is on and an account sshd would admit has an empty password",
		References:   []string{"CIS Linux benchmarks: Ensure sshd PermitEmptyPasswords is disabled", sshdManual},
		Remediation:  "Remove `PermitEmptyPasswords yes` (the default is no) and give every account a locked or real password."},
}

var byID = func() map[string]*Check {
	m := make(map[string]*Check, len(catalogue))
	for i := range catalogue {
		m[catalogue[i].ID] = &catalogue[i]
	}
	return m
}()

// All returns every check, sorted by id.
func All() []Check {
	out := append([]Check(nil), catalogue...)
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Lookup returns the check with id.
func Lookup(id string) (Check, bool) {
	c, ok := byID[id]
	if !ok {
		return Check{}, false
	}
	return *c, true
}

// ParseSkip turns the ids given to --skip-checks into a set, rejecting
// unknown ids so that a typo does not silently keep a check on.
func ParseSkip(ids []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, id := range ids {
		id = strings.TrimSpace(strings.ToLower(id))
		if id == "" {
			continue
		}
		if _, ok := byID[id]; !ok {
			return nil, fmt.Errorf("unknown check id %q (see `customs checks`)", id)
		}
		set[id] = true
	}
	return set, nil
}

// Finding returns a finding of the check with id, with the catalogue's title,
// severity, remediation and CIS section. It panics on an unknown id, which
// is a programming error.
func Finding(id string) model.Finding {
	c, ok := byID[id]
	if !ok {
		panic("check: unknown id " + id)
	}
	f := model.Finding{
		Class:       model.ClassMisconfiguration,
		ID:          c.ID,
		Title:       c.Title,
		Severity:    c.Severity,
		Description: c.Remediation,
	}
	if c.CIS != "" {
		f.Extra = map[string]string{"cis": c.CIS}
	}
	return f
}

// With returns f with the detail key set in Extra.
func With(f model.Finding, key, value string) model.Finding {
	if f.Extra == nil {
		f.Extra = map[string]string{}
	}
	f.Extra[key] = value
	return f
}
