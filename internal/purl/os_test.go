package purl

import (
	"testing"

	"github.com/customs-scanner/customs/internal/model"
)

func TestOSBuilders(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Deb("libssl3", "3.0.11-1~deb12u2", "amd64"), "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64"},
		{Deb("libstdc++6", "12.2.0-14+deb12u1", "amd64"), "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1?arch=amd64"},
		{APK("musl", "1.2.4-r2", "x86_64"), "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"},
		{RPM("bash", "5.1.8", "6.el9", "x86_64", 0), "pkg:rpm/bash@5.1.8-6.el9?arch=x86_64"},
		{RPM("openssl", "3.0.7", "25.el9", "x86_64", 1), "pkg:rpm/openssl@3.0.7-25.el9?arch=x86_64&epoch=1"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestWithDistro(t *testing.T) {
	pkgs := []model.Package{
		{Type: model.TypeDeb, PURL: Deb("libssl3", "3.0.11-1", "amd64")},
		{Type: model.TypeRPM, PURL: RPM("openssl", "3.0.7", "25.el9", "x86_64", 1)},
		{Type: model.TypeNPM, PURL: "pkg:npm/left-pad@1.3.0"},
	}
	WithDistro(pkgs, &model.OS{Family: "ubuntu", Version: "22.04"})
	want := []string{
		"pkg:deb/ubuntu/libssl3@3.0.11-1?arch=amd64&distro=ubuntu-22.04",
		"pkg:rpm/ubuntu/openssl@3.0.7-25.el9?arch=x86_64&distro=ubuntu-22.04&epoch=1",
		"pkg:npm/left-pad@1.3.0",
	}
	for i, p := range pkgs {
		if p.PURL != want[i] {
			t.Errorf("got %s, want %s", p.PURL, want[i])
		}
	}
	if got := WithDistro([]model.Package{{Type: model.TypeDeb, PURL: "x"}}, nil); got[0].PURL != "x" {
		t.Errorf("nil OS changed the purl: %s", got[0].PURL)
	}
}
