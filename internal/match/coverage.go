package match

import (
	"fmt"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// maxExamples bounds the examples a warning names.
const maxExamples = 3

// row accumulates the coverage of one ecosystem of the inventory.
type row struct {
	cov model.EcosystemCoverage
	// t is the lookup of the row's packages (its base and accepted
	// ecosystems are the same for all of them); why is the reason of an
	// unsupported row.
	t   target
	why string
	// examples for the warning
	unversioned, unparsable, ranges []string
	badSeen                         map[string]bool
}

func (r *row) example(list *[]string, s string) {
	if len(*list) < maxExamples {
		*list = append(*list, s)
	}
}

// badRange counts a range of record id that could not be evaluated for
// package name, once per record and description.
func (r *row) badRange(id, name, what string) {
	if r.badSeen == nil {
		r.badSeen = map[string]bool{}
	}
	k := id + "\x00" + what
	if r.badSeen[k] {
		return
	}
	r.badSeen[k] = true
	r.cov.UnparsableRanges++
	r.example(&r.ranges, fmt.Sprintf("%s for %s: %s", id, name, what))
}

// finish sets the records, freshness and status of the row from the
// database's summary.
func (r *row) finish(ecos []vulndb.EcosystemInfo) {
	if r.why != "" {
		r.cov.Status, r.cov.Reason = model.CoverageUnsupported, r.why
		return
	}
	var fetched time.Time
	modified := ""
	for _, e := range ecos {
		if vulndb.Base(e.Ecosystem) != r.t.base || !r.t.accept(e.Ecosystem) {
			continue
		}
		r.cov.Records += e.Records
		if e.Modified > modified {
			modified = e.Modified
		}
		if e.FetchedAt.After(fetched) {
			fetched = e.FetchedAt
		}
	}
	switch {
	case modified != "":
		r.cov.Updated = modified
	case !fetched.IsZero():
		r.cov.Updated = fetched.UTC().Format(time.RFC3339)
	}
	if r.cov.Records == 0 {
		r.cov.Status = model.CoverageNoData
		r.cov.Reason = fmt.Sprintf("the vulnerability database holds no advisory record for %s: its packages were looked up against nothing", r.cov.Ecosystem)
		return
	}
	r.cov.Status = model.CoverageOK
}

// warning is one line about what the row could not match ("" when all was
// matched against data).
func (r *row) warning() string {
	var parts []string
	c := &r.cov
	switch c.Status {
	case model.CoverageUnsupported:
		parts = append(parts, fmt.Sprintf("%s: %s not matched", c.Reason, plural(c.Packages, "package")))
	case model.CoverageNoData:
		parts = append(parts, fmt.Sprintf("the vulnerability database holds no advisory record for it: %s not checked (run `customs db update`)", plural(c.Matched, "package")))
	}
	if c.Unversioned > 0 {
		parts = append(parts, fmt.Sprintf("%s without a version or a development build, not matched (%s)",
			plural(c.Unversioned, "package"), strings.Join(r.unversioned, ", ")))
	}
	if c.UnparsableVersions > 0 {
		parts = append(parts, fmt.Sprintf("%s with an installed version that does not parse as a %s version, not matched (%s)",
			plural(c.UnparsableVersions, "package"), r.t.base, strings.Join(r.unparsable, ", ")))
	}
	if c.UnparsableRanges > 0 {
		parts = append(parts, fmt.Sprintf("%s of advisory records could not be evaluated: the packages they name may be affected (%s)",
			plural(c.UnparsableRanges, "version range"), strings.Join(r.ranges, "; ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return c.Ecosystem + ": " + strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
