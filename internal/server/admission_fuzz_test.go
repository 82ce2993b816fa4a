package server

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzPodSpec: whatever object an AdmissionReview carries, reading its
// pod template never panics, and every image listed is named once by a
// container of the template. Seeds: testdata/fuzz/FuzzPodSpec (kind
// index, object JSON).
func FuzzPodSpec(f *testing.F) {
	kinds := make([]string, 0, len(workloadKinds))
	for k := range workloadKinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	f.Fuzz(func(t *testing.T, k uint8, raw []byte) {
		gk := kinds[int(k)%len(kinds)]
		group, kind, _ := strings.Cut(gk, "/")
		spec, ok, err := podSpecOf(metav1.GroupVersionKind{Group: group, Version: "v1", Kind: kind}, raw)
		if !ok {
			t.Fatalf("%s is not inspected", gk)
		}
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, im := range imagesOf(spec) {
			if im.image == "" || seen[im.image] {
				t.Fatalf("image %q listed twice or empty", im.image)
			}
			seen[im.image] = true
		}
	})
}
