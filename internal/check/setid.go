package check

import "strings"

// ReasonShell is the reason of a setuid or setgid finding on a program
// that hands its privileges to whoever runs it.
const ReasonShell = "shell, interpreter or general-purpose tool: runs anything with the owner's privileges"

// dangerous are programs that, setuid or setgid, hand their privileges to
// whoever runs them: shells, interpreters, editors and file tools.
var dangerous = map[string]bool{
	"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ksh93": true, "mksh": true,
	"csh": true, "tcsh": true, "fish": true, "ash": true, "busybox": true, "env": true,
	"node": true, "nodejs": true, "awk": true, "gawk": true, "mawk": true, "nawk": true,
	"vi": true, "vim": true, "vim.basic": true, "vim.tiny": true, "nano": true, "ed": true,
	"find": true, "less": true, "more": true, "cp": true, "mv": true, "dd": true, "tee": true,
	"tar": true, "rsync": true, "socat": true, "nc": true, "ncat": true, "netcat": true,
	"nmap": true, "gdb": true, "strace": true, "chmod": true, "chown": true, "xargs": true,
}

// dangerousPrefixes catch versioned interpreter names (python3.11, perl5.36).
var dangerousPrefixes = []string{"python", "perl", "ruby", "php", "lua", "tclsh", "wish"}

// Dangerous reports whether a program named base hands the privileges of
// a setuid or setgid bit to whoever runs it: a shell, an interpreter, an
// editor or a general file tool.
func Dangerous(base string) bool {
	if dangerous[base] {
		return true
	}
	for _, p := range dangerousPrefixes {
		if rest, ok := strings.CutPrefix(base, p); ok && (rest == "" || strings.Trim(rest, "0123456789.-") == "") {
			return true
		}
	}
	return false
}
