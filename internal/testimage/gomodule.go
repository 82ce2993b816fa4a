package testimage

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// GoModule returns the directory of module path at version in the Go
// module cache, downloaded through the Go module proxy. The go command
// checks what it downloads against the Go checksum database, so test data
// that another project publishes in its module (a distribution's root
// filesystem, package databases taken from real images) reaches a test
// proven byte for byte, and none of it is committed here. Without the
// proxy the test is skipped, or fails when CI is set.
func GoModule(t testing.TB, path, version string) string {
	t.Helper()
	goTool := RequireTool(t, "go")
	cmd := exec.Command(goTool, "mod", "download", "-json", path+"@"+version)
	cmd.Dir = t.TempDir() // outside any module: no go.mod is read or changed
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil || mod.Error != "" || mod.Dir == "" {
		unavailable(t, "go mod download "+path+"@"+version+": "+errText(err)+" "+mod.Error)
	}
	return mod.Dir
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return err.Error() + ": " + string(ee.Stderr)
	}
	return err.Error()
}
