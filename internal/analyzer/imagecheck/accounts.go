package imagecheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// Account is one line of /etc/passwd or /etc/group.
type Account struct {
	Name string
	// ID is the UID (passwd) or GID (group); -1 when not a number.
	ID   int
	Line int
}

// maxAccounts bounds the lines read from one passwd or group file.
const maxAccounts = 100000

// ParseAccounts reads the name and numeric id (third field) of each line of
// an /etc/passwd or /etc/group file. Comment, blank and NIS ("+", "-")
// lines are skipped; malformed lines get ID -1.
func ParseAccounts(b []byte) []Account {
	var out []Account
	accountLines(b, func(line int, s string) bool {
		fields := strings.SplitN(s, ":", 4)
		a := Account{Name: fields[0], ID: -1, Line: line}
		if len(fields) >= 3 {
			if id, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
				a.ID = int(id)
			}
		}
		out = append(out, a)
		return len(out) < maxAccounts
	})
	return out
}

// accountLines calls fn with each line of a passwd or group file and its
// number, skipping blank, comment and NIS ("+", "-") lines, while fn
// returns true.
func accountLines(b []byte, fn func(line int, s string) bool) {
	line := 0
	for s := range strings.SplitSeq(string(b), "\n") {
		line++
		s = strings.TrimRight(s, "\r")
		if s == "" || s[0] == '#' || s[0] == '+' || s[0] == '-' {
			continue
		}
		if !fn(line, s) {
			return
		}
	}
}

// uidOf looks a user name up in the image's /etc/passwd.
func uidOf(img *analyzer.Image, name string) (int, bool) {
	b, ok := img.Files["etc/passwd"]
	if !ok {
		return 0, false
	}
	for _, a := range ParseAccounts(b) {
		if a.Name == name && a.ID >= 0 {
			return a.ID, true
		}
	}
	return 0, false
}

// userChecks reports an image whose processes run as root.
func userChecks(img *analyzer.Image) []model.Finding {
	if img.Config == nil {
		return nil // a root filesystem has no configuration
	}
	user := strings.TrimSpace(img.Config.Config.User)
	name, _, _ := strings.Cut(user, ":")
	var why string
	switch {
	case user == "":
		why = "no USER is set, so processes run as root"
	case name == "root":
		why = "USER is root"
	case isNumber(name):
		if uid, _ := strconv.ParseUint(name, 10, 64); uid == 0 {
			why = "USER is UID 0"
		}
	default:
		if uid, ok := uidOf(img, name); ok && uid == 0 {
			why = fmt.Sprintf("USER %s has UID 0 in /etc/passwd", quote(name))
		}
	}
	if why == "" {
		return nil
	}
	f := check.Finding(check.UserRoot)
	f.Location = "config.User"
	return []model.Finding{check.With(f, "reason", why)}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// accountChecks reports extra UID 0 accounts and duplicate UIDs and GIDs.
func accountChecks(img *analyzer.Image) []model.Finding {
	var out []model.Finding
	if b, ok := img.Files["etc/passwd"]; ok {
		users := ParseAccounts(b)
		for _, u := range users {
			if u.ID == 0 && u.Name != "root" {
				f := check.Finding(check.PasswdUID0)
				f.Path, f.Line = "etc/passwd", u.Line
				out = append(out, check.With(f, "account", quote(u.Name)))
			}
		}
		out = append(out, duplicates(users, check.PasswdDuplicateUID, "etc/passwd", "uid")...)
	}
	if b, ok := img.Files["etc/group"]; ok {
		out = append(out, duplicates(ParseAccounts(b), check.GroupDuplicateGID, "etc/group", "gid")...)
	}
	return out
}

// duplicates reports each id that several entries share, once, at the
// line of its second holder.
func duplicates(accts []Account, id, file, key string) []model.Finding {
	byID := map[int][]Account{}
	for _, a := range accts {
		if a.ID >= 0 {
			byID[a.ID] = append(byID[a.ID], a)
		}
	}
	ids := make([]int, 0, len(byID))
	for n, as := range byID {
		if len(as) > 1 {
			ids = append(ids, n)
		}
	}
	sort.Ints(ids)
	var out []model.Finding
	for _, n := range ids {
		as := byID[n]
		names := make([]string, 0, min(len(as), 10))
		for _, a := range as[:min(len(as), 10)] {
			names = append(names, quote(a.Name))
		}
		f := check.Finding(id)
		f.Path, f.Line = file, as[1].Line
		f = check.With(f, key, strconv.Itoa(n))
		out = append(out, check.With(f, "names", strings.Join(names, ",")))
	}
	return out
}

// quote makes s safe to print: at most 100 bytes, non-printable bytes escaped.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
