package imagecheck

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// Bounds on the build history read from a hostile configuration.
const (
	maxHistory        = 10000
	maxCreatedByBytes = 64 << 10
)

// Instruction is one build-history entry split into its Dockerfile
// instruction (RUN, ADD, COPY, ...) and arguments.
type Instruction struct {
	Op   string
	Args string
	// Legacy is set for the classic builder's "#(nop)" form, whose ADD and
	// COPY arguments read "<source> in <destination>".
	Legacy bool
}

// ParseCreatedBy reads a history entry's created_by as written by the
// classic builder ("/bin/sh -c #(nop) ADD file:... in /", "/bin/sh -c
// apt-get ...", "|2 A=b /bin/sh -c ...") and by BuildKit ("RUN /bin/sh -c
// ... # buildkit", "ADD https://... /x # buildkit").
func ParseCreatedBy(s string) Instruction {
	if len(s) > maxCreatedByBytes {
		s = s[:maxCreatedByBytes]
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "# buildkit"))
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c #(nop)"); ok {
		op, args, _ := strings.Cut(strings.TrimSpace(rest), " ")
		return Instruction{Op: strings.ToUpper(op), Args: strings.TrimSpace(args), Legacy: true}
	}
	op, args, _ := strings.Cut(s, " ")
	if op != "" && op == strings.ToUpper(op) && isLetters(op) {
		in := Instruction{Op: op, Args: strings.TrimSpace(args)}
		if op == "RUN" {
			in.Args = shellCommand(in.Args)
		}
		return in
	}
	if strings.Contains(s, "/bin/sh -c ") || strings.HasPrefix(s, "|") {
		return Instruction{Op: "RUN", Args: shellCommand(s)}
	}
	return Instruction{Op: "", Args: s}
}

func isLetters(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// shellCommand drops the build-argument prefix ("|2 A=b C=d") and the
// "/bin/sh -c" wrapper of a RUN entry.
func shellCommand(s string) string {
	if i := strings.Index(s, "/bin/sh -c "); i >= 0 {
		return strings.TrimSpace(s[i+len("/bin/sh -c "):])
	}
	return s
}

var (
	reUpdate  = analyzer.Regexp(`\b(apt-get|apt|apk)\s+(-\S+\s+)*update\b`)
	reInstall = analyzer.Regexp(`\b(apt-get|apt|aptitude)\s+(-\S+\s+)*(install|upgrade|dist-upgrade|full-upgrade|build-dep)\b|\bapk\s+(-\S+\s+)*(add|upgrade)\b`)
	reUpgrade = analyzer.Regexp(`\b(apt-get|apt|aptitude)\s+(-\S+\s+)*(upgrade|dist-upgrade|full-upgrade)\b|\bapk\s+(-\S+\s+)*upgrade\b|\b(yum|dnf|microdnf)\s+(-\S+\s+)*(upgrade|update|distro-sync)(\s+-\S+)*\s*($|[;&|)])`)
	rePipe    = analyzer.Regexp(`\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+(-\S+\s+)*)?(\S*/)?(env\s+)?(sh|bash|dash|zsh|ksh|ash|python[0-9.]*|perl|ruby|node)(\s|$|;|&|\))` +
		`|\b(sh|bash|dash|zsh|ksh)\s+(-\S+\s+)*-c\s+["']?\$\(\s*(curl|wget)\b` +
		`|\b(sh|bash|dash|zsh|ksh)\s+<\(\s*(curl|wget)\b`)
	reChmod = analyzer.Regexp(`\bchmod\s+(-\S+\s+)*(0?777|a\+rwx|ugo\+rwx|a=rwx|ugo=rwx|o\+w|o\+rwx|a\+w)(\s|$|;|&)`)
)

// historyChecks reports risky build steps, each at history[i] (the index
// in the configuration's history, empty layers included).
func historyChecks(img *analyzer.Image) []model.Finding {
	if img.Config == nil {
		return nil
	}
	var out []model.Finding
	for i, h := range img.Config.History {
		if i == maxHistory {
			break
		}
		in := ParseCreatedBy(h.CreatedBy)
		for _, id := range InstructionChecks(in) {
			f := check.Finding(id)
			f.Location = fmt.Sprintf("history[%d]", i)
			f = check.With(f, "instruction", in.Op)
			if in.Op == "ADD" {
				add := ClassifyADD(in)
				f = check.With(f, "source", add.Source)
				if add.Checksum {
					f.Severity = model.Low
					f = check.With(f, "checksum", "pinned with ADD --checksum")
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// InstructionChecks returns the ids of the history checks that fire on in.
func InstructionChecks(in Instruction) []string {
	var ids []string
	switch in.Op {
	case "RUN":
		cmd := strings.Join(strings.Fields(strings.ReplaceAll(in.Args, "\\\n", " ")), " ")
		if reUpdate().MatchString(cmd) && !reInstall().MatchString(cmd) {
			ids = append(ids, check.HistoryUpdateAlone)
		}
		if reUpgrade().MatchString(cmd) {
			ids = append(ids, check.HistoryUpgrade)
		}
		if rePipe().MatchString(cmd) {
			ids = append(ids, check.HistoryPipeToShell)
		}
		if reChmod().MatchString(cmd) {
			ids = append(ids, check.HistoryChmod777)
		}
	case "ADD":
		switch add := ClassifyADD(in); {
		case add.Remote:
			ids = append(ids, check.HistoryAddRemote)
		case add.Local:
			ids = append(ids, check.HistoryAddLocal)
		}
	}
	return ids
}

// archiveSuffixes are the local sources that ADD extracts, which COPY cannot.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.lz", ".tar.lzma"}

// ADD is what an ADD instruction fetches.
type ADD struct {
	// Remote: a source is a URL (http, https, git). Checksum: the
	// instruction pins it with --checksum.
	Remote, Checksum bool
	// Local: every source is local and COPY would do, as none is known to
	// be an archive for ADD to extract. A classic builder's "file:<digest>"
	// source may be an archive (a base image's root filesystem always is),
	// so it is not Local; its "dir:<digest>" source is.
	Local bool
	// Source is the first source, printable and bounded, for findings.
	Source string
}

// ClassifyADD reads an ADD instruction's sources, in BuildKit's form
// ("[--flags] src... dest", or JSON) and the classic builder's
// ("[--chown=u:g] file:<digest> in /dest", "dir:<digest> in /dest",
// "https://... in /dest").
func ClassifyADD(in Instruction) ADD {
	args := in.Args
	var words []string
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &words); err != nil {
			return ADD{}
		}
	} else {
		words = strings.Fields(args)
	}
	var add ADD
	var srcs []string
	for _, w := range words {
		if strings.HasPrefix(w, "--") {
			add.Checksum = add.Checksum || strings.HasPrefix(w, "--checksum=")
			continue
		}
		srcs = append(srcs, w)
	}
	if in.Legacy && len(srcs) >= 3 && srcs[len(srcs)-2] == "in" {
		srcs = append(srcs[:len(srcs)-2], srcs[len(srcs)-1])
	}
	if len(srcs) < 2 {
		return ADD{}
	}
	srcs = srcs[:len(srcs)-1] // the last word is the destination
	add.Source = quote(srcs[0])
	local, archive := false, true
	for _, s := range srcs {
		ls := strings.ToLower(s)
		switch {
		case strings.HasPrefix(ls, "http://") || strings.HasPrefix(ls, "https://") || strings.HasPrefix(ls, "git@"):
			add.Remote = true
			continue
		case strings.HasPrefix(ls, "dir:"):
			archive = false
		case strings.HasPrefix(ls, "file:") || strings.HasPrefix(ls, "multi:"):
		default:
			isArchive := false
			for _, suf := range archiveSuffixes {
				if strings.HasSuffix(ls, suf) {
					isArchive = true
				}
			}
			archive = archive && isArchive
		}
		local = true
	}
	add.Local = local && !archive && !add.Remote
	add.Checksum = add.Checksum && add.Remote
	return add
}
