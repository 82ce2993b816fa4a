package secret

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// TestDebianClean is the clean control: a stock Debian root filesystem has
// no secrets.
func TestDebianClean(t *testing.T) {
	root := testimage.Debootstrap(t)
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root))
	res := testimage.Scan(t, img, []analyzer.Analyzer{a})
	for _, f := range res.Findings {
		if f.Class == model.ClassSecret {
			t.Errorf("stock Debian: %s %s line %d: %s (%s)", f.ID, f.Path, f.Line, f.Title, f.Match)
		}
	}
}
