package analyzer

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/model"
)

// Image is what image-level analyzers see once every layer is merged: the
// configuration and history, the final operating system and packages, and
// the small files that layer analyzers kept, as they are in the final
// filesystem.
type Image struct {
	// Input is what the user asked to scan; Name the resolved reference.
	Input string
	Name  string
	// Source is the kind of source (registry, docker, ...).
	Source string
	Digest string
	// Config is nil for a root filesystem.
	Config   *v1.ConfigFile
	Layers   []model.Layer
	OS       *model.OS
	Packages []model.Package
	// Files maps a path to the content of a kept file in the final filesystem.
	Files map[string][]byte
	// Exists reports whether a path is a file in the final filesystem.
	Exists func(path string) bool
}

// ImageAnalyzer runs once per image, after the layers are merged.
type ImageAnalyzer interface {
	Name() string
	AnalyzeImage(ctx context.Context, img *Image) ([]model.Finding, error)
}
