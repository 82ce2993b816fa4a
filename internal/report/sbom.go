package report

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/package-url/packageurl-go"
)

// newUUID returns a random (version 4) UUID, which makes SBOM serial
// numbers and document namespaces unique per scan.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// sourceRegistry is Artifact.Source of an image read from a registry.
const sourceRegistry = "registry"

// imageName is how SBOMs name the scanned image: its resolved reference,
// else what the user typed.
func imageName(a Artifact) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Input
}

// imagePURL returns the image's pkg:oci package URL, or "" when the image
// has no digest or no repository name to call it by. The repository URL is
// given only for images that came from a registry; the tag when the
// reference has one.
func imagePURL(a Artifact) string {
	if !strings.HasPrefix(a.Digest, "sha256:") || a.Name == "" {
		return ""
	}
	named, _, _ := strings.Cut(a.Name, "@")
	ref, err := name.NewTag(named)
	if err != nil {
		return ""
	}
	repo := ref.Context()
	parts := strings.Split(repo.RepositoryStr(), "/")
	var q packageurl.Qualifiers
	if a.Architecture != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: a.Architecture})
	}
	if a.Source == sourceRegistry && repo.RegistryStr() != "" {
		q = append(q, packageurl.Qualifier{Key: "repository_url", Value: repo.RegistryStr() + "/" + repo.RepositoryStr()})
	}
	if strings.HasSuffix(named, ":"+ref.TagStr()) {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: ref.TagStr()})
	}
	return packageurl.NewPackageURL("oci", "", strings.ToLower(parts[len(parts)-1]), a.Digest, q, "").ToString()
}
