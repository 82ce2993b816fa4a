package dockerauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestIsCreate(t *testing.T) {
	for uri, want := range map[string]bool{
		"/containers/create":                 true,
		"/v1.45/containers/create?name=web":  true,
		"/v1/containers/create":              true,
		"//v1.45//containers/create/":        true,
		"/V1.45/Containers/Create":           true,
		"/v1.45/containers/./create":         true,
		"/v1.45/containers/web/start":        false,
		"/v1.45/containers/json":             false,
		"/v1.45/images/create?fromImage=x":   false,
		"/vx/containers/create":              false,
		"/v1.45/exec/containers/create":      false,
		"/containers/create%3Fx":             false,
		"/v1.45/containers/create#fragment":  true,
		"/v1.45/containers/../containers/cr": false,
	} {
		if got := IsCreate("POST", uri); got != want {
			t.Errorf("POST %s: %v, want %v", uri, got, want)
		}
	}
	if IsCreate("GET", "/containers/create") {
		t.Error("GET is a create")
	}
}

func authzReq(method, uri string, body []byte) []byte {
	b, _ := json.Marshal(Request{RequestMethod: method, RequestURI: uri, RequestBody: body})
	return b
}

func TestCreateImage(t *testing.T) {
	for _, c := range []struct {
		name   string
		body   []byte
		image  string
		create bool
		err    bool
	}{
		{"create", authzReq("POST", "/v1.45/containers/create", []byte(`{"Image":"nginx:1.27","Cmd":["sh"]}`)), "nginx:1.27", true, false},
		{"lower-case key", authzReq("POST", "/v1.45/containers/create", []byte(`{"image":"alpine"}`)), "alpine", true, false},
		{"last key wins", authzReq("POST", "/v1.45/containers/create", []byte(`{"Image":"clean","image":"risky"}`)), "risky", true, false},
		{"no image", authzReq("POST", "/v1.45/containers/create", []byte(`{}`)), "", true, false},
		{"no body", authzReq("POST", "/v1.45/containers/create", nil), "", true, true},
		{"body not an object", authzReq("POST", "/v1.45/containers/create", []byte(`[1]`)), "", true, true},
		{"other", authzReq("GET", "/v1.45/containers/json", nil), "", false, false},
		{"not json", []byte(`{`), "", false, true},
		{"too big", append([]byte(`{"RequestMethod":"`), make([]byte, MaxRequest)...), "", false, true},
	} {
		image, create, err := CreateImage(c.body)
		if image != c.image || create != c.create || (err != nil) != c.err {
			t.Errorf("%s: %q %v %v", c.name, image, create, err)
		}
	}
	if _, _, err := CreateImage(authzReq("POST", "/containers/create", nil)); !errors.Is(err, ErrNoBody) {
		t.Errorf("no body: %v", err)
	}
}

// byName denies images whose name has "risky" in it, and cannot decide
// about names with "broken".
type byName struct{}

func (byName) Decide(ctx context.Context, image string) (Decision, error) {
	switch {
	case strings.Contains(image, "broken"):
		return Decision{}, errors.New("no data")
	case strings.Contains(image, "risky"):
		return Decision{Message: "customs: " + image + " denied by rule malware"}, nil
	}
	return Decision{Allow: true}, nil
}

func call(t *testing.T, h http.Handler, path string, body []byte) Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
	var res Response
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return res
}

func TestHandler(t *testing.T) {
	closed := (&Plugin{Decider: byName{}}).Handler()
	open := (&Plugin{Decider: byName{}, FailOpen: true}).Handler()
	rec := httptest.NewRecorder()
	closed.ServeHTTP(rec, httptest.NewRequest("POST", "/Plugin.Activate", nil))
	if strings.TrimSpace(rec.Body.String()) != `{"Implements":["authz"]}` {
		t.Errorf("activate: %s", rec.Body)
	}
	create := func(image string) []byte {
		return authzReq("POST", "/v1.45/containers/create", []byte(`{"Image":"`+image+`"}`))
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZReq", create("clean:1")); !r.Allow {
		t.Errorf("clean: %+v", r)
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZReq", create("risky:1")); r.Allow || r.Msg != "customs: risky:1 denied by rule malware" {
		t.Errorf("risky: %+v", r)
	}
	if r := call(t, open, "/AuthZPlugin.AuthZReq", create("risky:1")); r.Allow {
		t.Errorf("failing open lets a denied image through: %+v", r)
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZReq", create("broken:1")); r.Allow || !strings.Contains(r.Msg, "could not decide") {
		t.Errorf("fail closed: %+v", r)
	}
	if r := call(t, open, "/AuthZPlugin.AuthZReq", create("broken:1")); !r.Allow {
		t.Errorf("fail open: %+v", r)
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZReq", authzReq("POST", "/containers/create", nil)); r.Allow || !strings.Contains(r.Msg, "without its body") {
		t.Errorf("no body: %+v", r)
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZReq", authzReq("DELETE", "/v1.45/containers/x", nil)); !r.Allow {
		t.Errorf("other request: %+v", r)
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZReq", []byte("{")); r.Allow || r.Err == "" {
		t.Errorf("bad request: %+v", r)
	}
	if r := call(t, closed, "/AuthZPlugin.AuthZRes", authzReq("POST", "/v1.45/containers/create", nil)); !r.Allow {
		t.Errorf("response: %+v", r)
	}
}

// TestDockerd: a real dockerd asks the plugin about each request; a
// create from the risky image is refused with the plugin's message, from
// the clean one it goes through, and so does everything else.
func TestDockerd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "authz.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- (&Plugin{Decider: byName{}}).Serve(ctx, sock) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	_, cli := testenv.DockerAuthz(t, sock, "")
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v %v", fi, err)
	}
	for _, ref := range []string{"customs-authz/clean:1", "customs-authz/risky:1"} {
		testenv.DockerLoad(t, cli, ref, testimage.Image(t, v1.Config{Cmd: []string{"/bin/true"}}, testimage.Layer(t, testimage.File("etc/marker", ref))))
	}
	if _, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "customs-authz/clean:1"}, Name: "clean"}); err != nil {
		t.Errorf("create from the clean image: %v", err)
	}
	_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "customs-authz/risky:1"}, Name: "risky"})
	if err == nil || !strings.Contains(err.Error(), "customs: customs-authz/risky:1 denied by rule malware") {
		t.Errorf("create from the risky image: %v", err)
	}
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true}); err != nil {
		t.Errorf("list: %v", err)
	}
}
