package shadow

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/testimage"
)

// walkShadow walks a layer holding shadow and a later file with a.
func walkShadow(t *testing.T, a *Analyzer, shadow []byte) *layer.Walked {
	t.Helper()
	tarball := testimage.Tar(t, testimage.File("etc/shadow", string(shadow)), testimage.File("etc/zz-after", "x"))
	w, err := layer.Walk(context.Background(), bytes.NewReader(tarball), []analyzer.Analyzer{a}, layer.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestGuessingInTheWalk: in a layer's walk, guessing runs in the
// background and its findings, with the list and the guesses tried, are in
// the layer's result when the walk returns; a judgement cut short by time
// marks the layer's result incomplete, so it is not cached.
func TestGuessingInTheWalk(t *testing.T) {
	requireCrypt(t)
	shadow := quickShadow(t)
	w := walkShadow(t, New(Options{Budget: slow, PerHash: slow, CPU: slow}), shadow)
	got := byID(w.Result.Findings)
	weak, ok := got["shadow-weak-password"]["root"]
	if !ok || weak.Extra["guess_list"] != "quick" || weak.Extra["guesses_tried"] == "" || w.Result.Incomplete {
		t.Fatalf("root: %+v, incomplete %v, warnings %q", weak, w.Result.Incomplete, w.Result.Warnings)
	}
	if u := got["shadow-usable-password"]["bob"]; u.Extra["guess_list"] != "quick" || u.Extra["guesses_tried"] == "" {
		t.Fatalf("bob: %+v", u)
	}

	process.Clear()
	w = walkShadow(t, New(Options{Guessing: GuessDeep, Budget: 30 * time.Millisecond, PerHash: 30 * time.Millisecond, Workers: 1}), firstLine(shadow))
	if !w.Result.Incomplete || len(w.Result.Warnings) != 1 || !strings.Contains(w.Result.Warnings[0], "time bound") {
		t.Fatalf("cut short by time: incomplete %v, warnings %q", w.Result.Incomplete, w.Result.Warnings)
	}
}
