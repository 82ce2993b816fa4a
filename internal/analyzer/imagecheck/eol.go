package imagecheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// EOL is when a distribution release stops receiving free security
// updates from its publisher: for Debian the end of Debian LTS, for Ubuntu
// the end of standard support (Expanded Security Maintenance needs an
// Ubuntu Pro subscription), for Alpine the end of its branch, for RHEL and
// its rebuilds the end of maintenance support, for Amazon Linux the end of
// security support. Sources: the distributions' release pages as collected
// by endoflife.date.
type EOL struct {
	Family, Release string
	Date            string // YYYY-MM-DD
}

var eolTable = []EOL{
	{"debian", "7", "2018-05-31"}, {"debian", "8", "2020-06-30"}, {"debian", "9", "2022-07-01"},
	{"debian", "10", "2024-06-30"}, {"debian", "11", "2026-08-31"}, {"debian", "12", "2028-06-10"},
	{"debian", "13", "2030-06-30"},

	{"ubuntu", "12.04", "2017-04-28"}, {"ubuntu", "14.04", "2019-04-02"}, {"ubuntu", "16.04", "2021-04-02"},
	{"ubuntu", "17.10", "2018-07-19"}, {"ubuntu", "18.04", "2023-05-31"}, {"ubuntu", "18.10", "2019-07-18"},
	{"ubuntu", "19.04", "2020-01-23"}, {"ubuntu", "19.10", "2020-07-06"}, {"ubuntu", "20.04", "2025-05-31"},
	{"ubuntu", "20.10", "2021-07-22"}, {"ubuntu", "21.04", "2022-01-20"}, {"ubuntu", "21.10", "2022-07-14"},
	{"ubuntu", "22.04", "2027-04-01"}, {"ubuntu", "22.10", "2023-07-20"}, {"ubuntu", "23.04", "2024-01-20"},
	{"ubuntu", "23.10", "2024-07-12"}, {"ubuntu", "24.04", "2029-05-31"}, {"ubuntu", "24.10", "2025-07-10"},
	{"ubuntu", "25.04", "2026-01-17"}, {"ubuntu", "25.10", "2026-07-01"}, {"ubuntu", "26.04", "2031-04-30"},

	{"alpine", "3.8", "2020-05-01"}, {"alpine", "3.9", "2020-11-01"}, {"alpine", "3.10", "2021-05-01"},
	{"alpine", "3.11", "2021-11-01"}, {"alpine", "3.12", "2022-05-01"}, {"alpine", "3.13", "2022-11-01"},
	{"alpine", "3.14", "2023-05-01"}, {"alpine", "3.15", "2023-11-01"}, {"alpine", "3.16", "2024-05-23"},
	{"alpine", "3.17", "2024-11-22"}, {"alpine", "3.18", "2025-05-09"}, {"alpine", "3.19", "2025-11-01"},
	{"alpine", "3.20", "2026-04-01"}, {"alpine", "3.21", "2026-11-01"}, {"alpine", "3.22", "2027-05-01"},
	{"alpine", "3.23", "2027-11-01"},

	{"rhel", "6", "2020-11-30"}, {"rhel", "7", "2024-06-30"}, {"rhel", "8", "2029-05-31"},
	{"rhel", "9", "2032-05-31"}, {"rhel", "10", "2035-05-31"},
	{"rocky", "8", "2029-05-31"}, {"rocky", "9", "2032-05-31"}, {"rocky", "10", "2035-05-31"},
	{"almalinux", "8", "2029-05-31"}, {"almalinux", "9", "2032-05-31"}, {"almalinux", "10", "2035-05-31"},
	{"centos", "6", "2020-11-30"}, {"centos", "7", "2024-06-30"}, {"centos", "8", "2021-12-31"},
	{"centos-stream", "8", "2024-05-31"}, {"centos-stream", "9", "2027-05-31"},

	{"amzn", "2018.03", "2023-12-31"}, {"amzn", "2", "2026-06-30"}, {"amzn", "2023", "2029-06-30"},
}

// LookupEOL returns the end-of-life entry for an operating system, when
// the table knows its release.
func LookupEOL(os model.OS) (EOL, bool) {
	family, release := strings.ToLower(os.Family), os.Version
	switch family {
	case "ubuntu", "alpine":
		release = majorMinor(release)
	case "rhel", "rocky", "almalinux", "centos", "debian":
		release, _, _ = strings.Cut(release, ".")
		if family == "centos" && strings.Contains(strings.ToLower(os.Name), "stream") {
			family = "centos-stream"
		}
	}
	for _, e := range eolTable {
		if e.Family == family && e.Release == release {
			return e, true
		}
	}
	return EOL{}, false
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// eolCheck reports a release whose end of life has passed.
func (a *Analyzer) eolCheck(img *analyzer.Image) []model.Finding {
	if img.OS == nil {
		return nil
	}
	e, ok := LookupEOL(*img.OS)
	if !ok {
		return nil
	}
	date, err := time.Parse(time.DateOnly, e.Date)
	if err != nil || !a.opt.Now().After(date.AddDate(0, 0, 1)) {
		return nil
	}
	name := img.OS.Name
	if name == "" {
		name = img.OS.Family + " " + img.OS.Version
	}
	f := check.Finding(check.OSEndOfLife)
	f.Location = "os"
	f.Title = fmt.Sprintf("%s reached end of life on %s", quote(name), e.Date)
	f = check.With(f, "eol_date", e.Date)
	return []model.Finding{check.With(f, "release", e.Family+" "+e.Release)}
}
