// Package distreg serves the reference registry (distribution) in the test
// process, over plain HTTP on a loopback port. It is apart from testenv so
// that only the tests that use it link the registry.
package distreg

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // the filesystem storage driver
	"github.com/sirupsen/logrus"
)

// Handler is the reference registry's handler for t, with filesystem
// storage under a temporary directory and only errors logged; extra is more
// configuration (YAML) at the end.
func Handler(t testing.TB, extra string) http.Handler {
	t.Helper()
	logrus.SetLevel(logrus.PanicLevel)
	cfg, err := configuration.Parse(strings.NewReader("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: " +
		t.TempDir() + "\nhttp:\n  addr: 127.0.0.1:0\n" + extra))
	if err != nil {
		t.Fatal(err)
	}
	return handlers.NewApp(context.Background(), cfg)
}

// Serve serves h (a Handler, or one wrapping it) over plain HTTP on a free
// 127.0.0.1 port until t ends, and returns its host:port.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
