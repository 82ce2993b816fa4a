package secret_test

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/testimage"
)

// nodeModules returns a layer with n npm packages laid out as npm installs
// them: package.json, code, a README and a license each.
func nodeModules(b *testing.B, n int) []testimage.Entry {
	var es []testimage.Entry
	code := strings.Repeat("function handler(req, res, next) {\n  const apiKey = options.apiKey || process.env.API_KEY;\n  if (!token) { return next(new Error('missing auth token')); }\n  return res.json({ ok: true, key: req.params.key });\n}\n", 40)
	readme := strings.Repeat("## Usage\n\nPass your access token with `--token $TOKEN` or set `password` in the config.\n\n", 30)
	for i := range n {
		dir := fmt.Sprintf("app/node_modules/pkg-%04d/", i)
		es = append(es,
			testimage.File(dir+"package.json", fmt.Sprintf(`{"name":"pkg-%04d","version":"1.%d.0","main":"index.js","license":"MIT"}`, i, i%10)),
			testimage.File(dir+"index.js", code),
			testimage.File(dir+"lib/util.js", code),
			testimage.File(dir+"README.md", readme),
			testimage.File(dir+"LICENSE", "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"),
		)
	}
	es = append(es, testimage.File("app/package.json", `{"name":"app","version":"1.0.0","dependencies":{"pkg-0000":"^1.0.0"}}`),
		testimage.File("app/server.js", code))
	return es
}

// BenchmarkSecretOverhead compares an inventory-only scan of the Debian
// test image plus a 1,500-package node_modules with the same scan plus the
// secret scanner (file secrets, shadow, image metadata).
func BenchmarkSecretOverhead(b *testing.B) {
	root := testimage.Debootstrap(b)
	img := testimage.Image(b, v1.Config{Env: []string{"PATH=/usr/bin"}},
		testimage.DirLayer(b, root), testimage.Layer(b, nodeModules(b, 1500)...))
	for _, tc := range []struct {
		name     string
		scanners map[string]bool
	}{
		{"inventory", map[string]bool{all.ScannerPackage: true}},
		{"inventory+secret", map[string]bool{all.ScannerPackage: true, all.ScannerSecret: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := all.Config{Scanners: tc.scanners}
			las, err := all.Layer(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ias, err := all.Image(cfg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res := testimage.Scan(b, img, las, ias...)
				if len(res.Packages) < 1500 {
					b.Fatalf("%d packages", len(res.Packages))
				}
			}
		})
	}
}
