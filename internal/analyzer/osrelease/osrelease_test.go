package osrelease

import (
	"context"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

func TestReleaseFiles(t *testing.T) {
	for _, c := range []struct {
		path, body string
		want       model.OS
	}{
		{"etc/rocky-release", "Rocky Linux release 9.3 (Blue Onyx)\n", model.OS{Family: "rocky", Version: "9.3", Codename: "Blue Onyx", Name: "Rocky Linux release 9.3 (Blue Onyx)"}},
		{"etc/centos-release", "CentOS Linux release 7.9.2009 (Core)\n", model.OS{Family: "centos", Version: "7.9.2009", Codename: "Core", Name: "CentOS Linux release 7.9.2009 (Core)"}},
		{"etc/system-release", "Amazon Linux release 2 (Karoo)\n", model.OS{Family: "amzn", Version: "2", Codename: "Karoo", Name: "Amazon Linux release 2 (Karoo)"}},
		{"etc/alpine-release", "3.19.1\n", model.OS{Family: "alpine", Version: "3.19.1"}},
		{"etc/debian_version", "12.4\n", model.OS{Family: "debian", Version: "12"}},
		{"etc/SuSE-release", "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 3\n", model.OS{Family: "sles", Version: "12.3", Name: "SUSE Linux Enterprise Server 12 (x86_64)"}},
		{"usr/lib/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n", model.OS{Family: "alpine", Version: "3.19.1", Name: "Alpine Linux v3.19"}},
	} {
		var r analyzer.Result
		a := New()
		e := analyzer.Entry{Path: c.path, Mode: 0o644}
		if a.Need(&e) != analyzer.Content {
			t.Errorf("%s not wanted", c.path)
			continue
		}
		if err := a.Analyze(context.Background(), &analyzer.File{Entry: e, Content: []byte(c.body)}, &r); err != nil || len(r.OS) != 1 || r.OS[0].OS != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.path, r.OS, err, c.want)
		}
	}
}

// TestDebianTesting: os-release of testing has no VERSION_ID; the version
// comes from debian_version in the same layer, whichever is read first.
func TestDebianTesting(t *testing.T) {
	osRel := "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n"
	files := []analyzer.File{
		{Entry: analyzer.Entry{Path: "etc/debian_version"}, Content: []byte("trixie/sid\n")},
		{Entry: analyzer.Entry{Path: "usr/lib/os-release"}, Content: []byte(osRel)},
	}
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		var r analyzer.Result
		for _, i := range order {
			if err := New().Analyze(context.Background(), &files[i], &r); err != nil {
				t.Fatal(err)
			}
		}
		for _, rec := range r.OS {
			if rec.Path == "usr/lib/os-release" && rec.OS.Version != "trixie/sid" {
				t.Errorf("order %v: %+v", order, rec.OS)
			}
		}
	}
}
