package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("spdx", writeSPDX) }

// noAssertion is SPDX's "the writer makes no claim".
const noAssertion = "NOASSERTION"

// namespaceBase prefixes every document namespace; a random UUID follows,
// so each scan's document has its own.
const namespaceBase = "https://github.com/customs-scanner/customs/spdx/"

// writeSPDX writes r as an SPDX 2.3 JSON document that DESCRIBES the image,
// which CONTAINS its operating system and packages.
func writeSPDX(w io.Writer, r *Report) error {
	return spdxjson.Write(spdxDocument(r), w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

func spdxDocument(r *Report) *spdx.Document {
	a := r.Artifact
	name := imageName(a)
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: namespaceBase + url.PathEscape(spdxIDString(name)) + "-" + newUUID(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: r.Tool.Name + "-" + r.Tool.Version}},
			Created:  r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
	ids := map[common.ElementID]bool{"DOCUMENT": true}
	newID := func(kind, text string) common.ElementID {
		sum := sha256.Sum256([]byte(text))
		base := kind + "-" + spdxIDString(text)
		if len(base) > 100 {
			base = base[:100]
		}
		id := common.ElementID(base + "-" + hex.EncodeToString(sum[:6]))
		for n := 2; ids[id]; n++ {
			id = common.ElementID(fmt.Sprintf("%s-%s-%d", base, hex.EncodeToString(sum[:6]), n))
		}
		ids[id] = true
		return id
	}

	image := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   newID("Image", name),
		PackageVersion:          a.Digest,
		PackageDownloadLocation: noAssertion,
		FilesAnalyzed:           false,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
	}
	if hexDigest, ok := strings.CutPrefix(a.Digest, "sha256:"); ok && isHex(hexDigest) {
		image.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: hexDigest}}
	}
	if purl := imagePURL(a); purl != "" {
		image.PackageExternalReferences = []*spdx.PackageExternalReference{purlRef(purl)}
	}
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", string(image.PackageSPDXIdentifier)),
		Relationship: common.TypeRelationshipDescribe,
	})
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", string(image.PackageSPDXIdentifier)),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}

	if os := a.OS; os != nil && os.Family != "" {
		p := &spdx.Package{
			PackageName:             os.Family,
			PackageSPDXIdentifier:   newID("OperatingSystem", os.Family+"-"+os.Version),
			PackageVersion:          os.Version,
			PackageDescription:      os.Name,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PrimaryPackagePurpose:   "OPERATING-SYSTEM",
		}
		doc.Packages = append(doc.Packages, p)
		contains(p.PackageSPDXIdentifier)
	}

	licenses := map[string]*spdx.OtherLicense{}
	for _, pkg := range r.Packages {
		p := spdxPackage(pkg, newID("Package", pkg.Type+"-"+pkg.Name+"-"+pkg.Version+"-"+pkg.Path+"-"+pkg.Arch))
		if len(pkg.Licenses) > 0 {
			if expr, ok := licenseExpression(pkg.Licenses); ok {
				p.PackageLicenseDeclared = expr
			} else {
				var refs []string
				for _, l := range pkg.Licenses {
					id := licenseRef(l)
					if licenses[id] == nil {
						ol := &spdx.OtherLicense{LicenseIdentifier: id, ExtractedText: l, LicenseName: l}
						licenses[id] = ol
						doc.OtherLicenses = append(doc.OtherLicenses, ol)
					}
					refs = append(refs, id)
				}
				p.PackageLicenseDeclared = strings.Join(refs, " AND ")
			}
		}
		doc.Packages = append(doc.Packages, p)
		contains(p.PackageSPDXIdentifier)
	}
	return doc
}

func spdxPackage(pkg model.Package, id common.ElementID) *spdx.Package {
	p := &spdx.Package{
		PackageName:             pkg.Name,
		PackageSPDXIdentifier:   id,
		PackageVersion:          pkg.Version,
		PackageDownloadLocation: noAssertion,
		FilesAnalyzed:           false,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "LIBRARY",
	}
	if isApplication(pkg) {
		p.PrimaryPackagePurpose = "APPLICATION"
	}
	if pkg.SourceName != "" {
		src := pkg.SourceName
		if pkg.SourceVersion != "" {
			src += " " + pkg.SourceVersion
		}
		p.PackageSourceInfo = "built from source package " + src
	}
	if pkg.PURL != "" {
		p.PackageExternalReferences = []*spdx.PackageExternalReference{purlRef(pkg.PURL)}
	}
	where := "found at /" + pkg.Path
	for _, l := range pkg.Locations {
		where += ", /" + l
	}
	if pkg.LayerDiffID != "" {
		where += " (layer " + pkg.LayerDiffID + ")"
	}
	p.PackageComment = where
	return p
}

func purlRef(purl string) *spdx.PackageExternalReference {
	return &spdx.PackageExternalReference{
		Category: common.CategoryPackageManager,
		RefType:  common.TypePackageManagerPURL,
		Locator:  purl,
	}
}

// spdxIDString maps s onto the characters SPDX identifiers allow
// (letters, digits, "." and "-"), replacing every other run by "-".
func spdxIDString(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if isIDChar(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "unnamed"
	}
	return out
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
