package imagesecret

import (
	"crypto/rand"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/secret"
	"github.com/customs-scanner/customs/internal/model"
)

func token(t *testing.T, n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func TestMetadata(t *testing.T) {
	dbPass, ghp, labelTok, cmdPass, argPass, curlPass, rootPass, mysqlPass :=
		token(t, 16), "ghp_"+token(t, 36), token(t, 24), token(t, 14), token(t, 15), token(t, 13), token(t, 12), token(t, 11)
	cfg := &v1.ConfigFile{
		Config: v1.Config{
			Env: []string{"PATH=/usr/local/bin:/usr/bin", "DB_PASSWORD=" + dbPass, "GH=" + ghp,
				"GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", "PASSWORD_FILE=/run/secrets/db", "API_TOKEN="},
			Labels:     map[string]string{"org.opencontainers.image.source": "https://github.com/acme/app", "deploy.token": labelTok},
			Entrypoint: []string{"/app/server", "--password=" + cmdPass},
			Cmd:        []string{"--token", "$TOKEN"},
		},
		History: []v1.History{
			{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
			{CreatedBy: "|2 NPM_TOKEN=" + argPass + " VERSION=1.2 /bin/sh -c npm ci"},
			{CreatedBy: "/bin/sh -c curl -fsSL -u deploy:" + curlPass + " https://artifacts.example.com/app.tgz | tar xz"},
			{CreatedBy: "RUN /bin/sh -c echo 'root:" + rootPass + "' | chpasswd # buildkit"},
			{CreatedBy: "/bin/sh -c mysql -uroot -p" + mysqlPass + " < /init.sql"},
			{CreatedBy: "/bin/sh -c #(nop)  ENV DB_PASSWORD=" + dbPass},
			{CreatedBy: "/bin/sh -c apt-get update && apt-get install -y ca-certificates"},
		},
	}
	a, err := New(secret.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := a.AnalyzeImage(t.Context(), &analyzer.Image{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"config.Env[DB_PASSWORD]":     dbPass,
		"config.Env[GH]":              ghp,
		"config.Labels[deploy.token]": labelTok,
		"config.Entrypoint":           cmdPass,
		"history[1]":                  argPass,
		"history[2]":                  "deploy:" + curlPass,
		"history[3]":                  "root:" + rootPass,
		"history[4]":                  mysqlPass,
	}
	got := map[string]model.Finding{}
	for _, f := range fs {
		if _, dup := got[f.Location]; dup {
			t.Errorf("second finding at %s: %s %q", f.Location, f.ID, f.Match)
			continue
		}
		got[f.Location] = f
	}
	for loc, s := range want {
		f, ok := got[loc]
		if !ok {
			t.Errorf("missing finding at %s", loc)
			continue
		}
		delete(got, loc)
		if f.Match != secret.Redact(s) || strings.Contains(f.Match, s) || f.Class != model.ClassSecret || f.Path != "" {
			t.Errorf("%s: %+v (secret %q)", loc, f, s)
		}
	}
	if f := got["history[3]"]; f.ID != "" && f.Severity != model.Critical {
		t.Errorf("chpasswd severity %s", f.Severity)
	}
	for loc, f := range got {
		t.Errorf("unexpected finding at %s: %s %s %q", loc, f.ID, f.Title, f.Match)
	}

	shown, _ := New(secret.Options{ShowSecrets: true})
	fs, _ = shown.AnalyzeImage(t.Context(), &analyzer.Image{Config: cfg})
	for _, f := range fs {
		if f.Location == "config.Env[DB_PASSWORD]" && f.Match != dbPass {
			t.Errorf("--show-secrets: %q", f.Match)
		}
	}
}

// TestOfficialImageClean checks metadata like that of official images
// (python, postgres, nginx), which holds no secrets.
func TestOfficialImageClean(t *testing.T) {
	cfg := &v1.ConfigFile{
		Config: v1.Config{
			Env: []string{"PATH=/usr/local/bin:/usr/bin", "LANG=C.UTF-8", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
				"PYTHON_VERSION=3.12.4", "PYTHON_SHA256=" + strings.Repeat("ab", 32), "PGDATA=/var/lib/postgresql/data",
				"NGINX_VERSION=1.27.0", "PG_SHA256=" + strings.Repeat("0f", 32)},
			Cmd: []string{"nginx", "-g", "daemon off;"},
		},
		History: []v1.History{
			{CreatedBy: "/bin/sh -c set -eux; savedAptMark=\"$(apt-mark showmanual)\"; apt-get update; gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys \"$GPG_KEY\""},
			{CreatedBy: "RUN /bin/sh -c curl -fsSL -o /tmp/x.tgz https://example.org/x.tgz # buildkit"},
		},
	}
	a, err := New(secret.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := a.AnalyzeImage(t.Context(), &analyzer.Image{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Errorf("unexpected: %s %s %s %q", f.Location, f.ID, f.Title, f.Match)
	}
}
