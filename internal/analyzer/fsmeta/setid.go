package fsmeta

import (
	"fmt"
	"io/fs"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// Reasons given in a setuid or setgid finding's Extra["reason"].
const (
	ReasonBase        = "helper shipped by distribution base packages"
	ReasonShell       = check.ReasonShell
	ReasonUnexpected  = "not a known distribution helper"
	ReasonNonRootUser = "not a known distribution helper; owned by a non-root account"
)

// baseHelpers are the setuid and setgid programs that distribution base
// packages install (shadow, util-linux, sudo, openssh, dbus, polkit, cron,
// iputils, ...), by normalized path (see normalize).
var baseHelpers = map[string]bool{
	"bin/su": true, "bin/mount": true, "bin/umount": true, "bin/passwd": true, "bin/chsh": true,
	"bin/chfn": true, "bin/gpasswd": true, "bin/newgrp": true, "bin/chage": true, "bin/expiry": true,
	"bin/sudo": true, "bin/pkexec": true, "bin/fusermount": true, "bin/fusermount3": true,
	"bin/newuidmap": true, "bin/newgidmap": true, "bin/crontab": true, "bin/at": true,
	"bin/ping": true, "bin/ping6": true, "bin/wall": true, "bin/write": true, "bin/bsd-write": true,
	"bin/write.ul": true, "bin/ssh-agent": true, "bin/dotlockfile": true, "bin/plocate": true,
	"bin/mlocate": true, "bin/locate": true, "bin/ksu": true, "bin/bbsuid": true, "bin/Xorg": true,
	"sbin/unix_chkpwd": true, "sbin/pam_extrausers_chkpwd": true, "sbin/pam_timestamp_check": true,
	"sbin/userhelper": true, "sbin/mount.nfs": true, "sbin/usernetctl": true, "sbin/postdrop": true,
	"sbin/postqueue": true, "sbin/exim4": true, "sbin/mount.cifs": true,
	"lib/openssh/ssh-keysign": true, "libexec/openssh/ssh-keysign": true,
	"lib/dbus-1.0/dbus-daemon-launch-helper": true, "libexec/dbus-1/dbus-daemon-launch-helper": true,
	"lib/polkit-1/polkit-agent-helper-1": true, "libexec/polkit-1/polkit-agent-helper-1": true,
	"lib/policykit-1/polkit-agent-helper-1": true, "lib/xorg/Xorg.wrap": true,
	"lib/eject/dmcrypt-get-device": true, "libexec/utempter/utempter": true,
}

// Classify returns the severity and reason of a setuid or setgid file.
func Classify(e *analyzer.Entry) (model.Severity, string) {
	base := e.Base()
	if check.Dangerous(base) {
		if (e.Mode&fs.ModeSetuid != 0 && e.UID == 0) || (e.Mode&fs.ModeSetgid != 0 && e.GID == 0) {
			return model.Critical, ReasonShell
		}
		return model.High, ReasonShell
	}
	if baseHelpers[normalize(e.Path)] {
		return model.Low, ReasonBase
	}
	if e.Mode&fs.ModeSetuid != 0 && e.UID != 0 {
		return model.Medium, ReasonNonRootUser
	}
	return model.High, ReasonUnexpected
}

// setid reports a setuid or setgid file (one finding each when both are set).
func (a *Analyzer) setid(e *analyzer.Entry, r *analyzer.Result) {
	sev, reason := Classify(e)
	owner := fmt.Sprintf("%d:%d", e.UID, e.GID)
	if e.Mode&fs.ModeSetuid != 0 {
		f := fileFinding(check.SetuidFile, e, "reason", reason)
		f.Severity = sev
		a.add(r, check.With(f, "owner", owner))
	}
	if e.Mode&fs.ModeSetgid != 0 {
		f := fileFinding(check.SetgidFile, e, "reason", reason)
		f.Severity = sev
		a.add(r, check.With(f, "owner", owner))
	}
}
