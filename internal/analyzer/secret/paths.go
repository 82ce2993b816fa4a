package secret

import (
	"bytes"
	"path"
	"strings"
)

// skipDirs hold third-party code, distribution data and documentation whose
// example credentials are not the image's secrets, following gitleaks'
// default path allowlist (node_modules, vendored Go, Python and Ruby
// libraries, lock files) plus distribution directories.
var skipDirs = []string{
	"node_modules/", "bower_components/", "vendor/bundle/", "vendor/ruby/",
	"vendor/github.com/", "vendor/golang.org/x/", "vendor/google.golang.org/", "vendor/gopkg.in/", "vendor/k8s.io/", "vendor/sigs.k8s.io/",
	"site-packages/", "dist-packages/",
}

// skipPrefixes are distribution-owned trees (from the image root):
// documentation, locale data, package databases, interpreters' standard
// libraries and public keyrings.
var skipPrefixes = []string{
	"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/", "usr/share/i18n/",
	"usr/share/zoneinfo/", "usr/share/common-licenses/", "usr/share/mime/", "usr/share/perl/", "usr/share/perl5/",
	"usr/include/", "usr/lib/python2", "usr/lib/python3", "usr/share/X11/locale/", "usr/share/terminfo/",
	"usr/lib/x86_64-linux-gnu/perl", "usr/lib/aarch64-linux-gnu/perl", "usr/lib/perl5/", "usr/lib/ruby/", "usr/lib/jvm/",
	"usr/share/gcc/", "usr/share/javascript/", "usr/share/bash-completion/", "usr/share/keyrings/", "etc/apt/trusted.gpg.d/",
	"var/lib/dpkg/", "var/lib/apt/lists/", "var/cache/debconf/", "var/cache/apt/", "var/lib/rpm/", "lib/apk/db/",
	"proc/", "sys/", "dev/",
}

// skipBases are lock files and build wrappers whose content is checksums
// and URLs.
var skipBases = map[string]bool{
	"go.mod": true, "go.sum": true, "go.work": true, "go.work.sum": true, "modules.txt": true,
	"package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true, "pnpm-lock.yaml": true, "deno.lock": true,
	"Pipfile.lock": true, "poetry.lock": true, "gradle.lockfile": true, "Cargo.lock": true, "composer.lock": true, "Gemfile.lock": true,
	"gradlew": true, "gradlew.bat": true, "mvnw": true, "mvnw.cmd": true, "verification-metadata.xml": true,
}

// skipExts are binary or media formats.
var skipExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".ico": true, ".svg": true, ".tif": true, ".tiff": true, ".webp": true,
	".eot": true, ".ttf": true, ".otf": true, ".woff": true, ".woff2": true, ".pcf": true,
	".pdf": true, ".doc": true, ".docx": true, ".xls": true, ".xlsx": true,
	".so": true, ".a": true, ".o": true, ".dll": true, ".exe": true, ".pyc": true, ".pyo": true, ".class": true, ".jar": true, ".war": true, ".whl": true, ".gem": true,
	".gz": true, ".tgz": true, ".xz": true, ".bz2": true, ".zst": true, ".zip": true, ".7z": true, ".lz4": true, ".deb": true, ".rpm": true, ".apk": true,
	".mo": true, ".gmo": true, ".db": true, ".sqlite": true, ".wasm": true, ".node": true, ".map": true,
}

// skipPath reports whether a file is never scanned for secrets.
func skipPath(p string) bool {
	for _, pre := range skipPrefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	for _, d := range skipDirs {
		if strings.HasPrefix(p, d) || strings.Contains(p, "/"+d) {
			return true
		}
	}
	base := path.Base(p)
	if skipBases[base] {
		return true
	}
	ext := strings.ToLower(path.Ext(base))
	if skipExts[ext] {
		return true
	}
	if strings.Contains(base, ".so.") || strings.HasSuffix(base, ".dist-info") || strings.Contains(p, ".dist-info/") {
		return true
	}
	if ext == ".js" && minifiedLibrary(base) {
		return true
	}
	return false
}

// minifiedLibrary recognises bundled copies of well-known front-end
// libraries (jquery-3.7.1.min.js, bootstrap.bundle.js, ...).
func minifiedLibrary(base string) bool {
	b := strings.ToLower(base)
	for _, lib := range []string{"angular", "bootstrap", "jquery", "plotly", "swagger-ui", "swaggerui"} {
		if strings.HasPrefix(b, lib) {
			return true
		}
	}
	return false
}

// isBinary sniffs content as git does: a NUL byte in the first 8000 bytes.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}
