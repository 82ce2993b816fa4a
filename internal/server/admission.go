package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/customs-scanner/customs/internal/verdict"
)

// AdmissionConfig configures the Kubernetes admission webhook
// (POST /k8s/validate, docs/kubernetes.md).
type AdmissionConfig struct {
	// Timeout bounds the answer to one AdmissionReview, digest look-ups
	// and scans on demand included (default 8 s: under the webhook's
	// default timeoutSeconds of 10).
	Timeout time.Duration
	// FailOpen admits workloads whose images could not be decided in
	// time or at all; by default they are denied (fail closed).
	FailOpen bool
	// RequireToken makes the webhook need an API token (read role) in
	// the Authorization header, as the API server sends it when its
	// AdmissionConfiguration gives one; by default it needs none.
	RequireToken bool
	// PullSecretsDir holds the pull secrets pods may name, mounted as
	// DIR/<namespace>/<secret>/.dockerconfigjson (or .dockercfg); ""
	// reads none.
	PullSecretsDir string
}

// Bounds of the admission webhook.
const (
	defaultAdmissionTimeout = 8 * time.Second
	// maxReviewBytes bounds an AdmissionReview body (the API server's
	// own request limit is 3 MiB).
	maxReviewBytes = 3 << 20
	// maxImages bounds the distinct images one review is decided on.
	maxImages = 64
	// decideParallel is how many images of one review are decided at once.
	decideParallel = 4
	// maxWarning bounds one admission warning.
	maxWarning = 250
)

func (c AdmissionConfig) timeout() time.Duration {
	if c.Timeout <= 0 {
		return defaultAdmissionTimeout
	}
	return c.Timeout
}

// podImage is one image a workload runs, with the first container that
// names it.
type podImage struct {
	image     string
	container string
}

// template decodes a workload object of type T and returns its pod
// template.
func template[T any](spec func(*T) *corev1.PodSpec) func([]byte) (*corev1.PodSpec, error) {
	return func(raw []byte) (*corev1.PodSpec, error) {
		var o T
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, err
		}
		return spec(&o), nil
	}
}

// workloadKinds are the kinds the webhook inspects, by group/kind, with
// how to find their pod template.
var workloadKinds = map[string]func([]byte) (*corev1.PodSpec, error){
	"/Pod":             template(func(o *corev1.Pod) *corev1.PodSpec { return &o.Spec }),
	"apps/Deployment":  template(func(o *appsv1.Deployment) *corev1.PodSpec { return &o.Spec.Template.Spec }),
	"apps/StatefulSet": template(func(o *appsv1.StatefulSet) *corev1.PodSpec { return &o.Spec.Template.Spec }),
	"apps/DaemonSet":   template(func(o *appsv1.DaemonSet) *corev1.PodSpec { return &o.Spec.Template.Spec }),
	"apps/ReplicaSet":  template(func(o *appsv1.ReplicaSet) *corev1.PodSpec { return &o.Spec.Template.Spec }),
	"batch/Job":        template(func(o *batchv1.Job) *corev1.PodSpec { return &o.Spec.Template.Spec }),
	"batch/CronJob":    template(func(o *batchv1.CronJob) *corev1.PodSpec { return &o.Spec.JobTemplate.Spec.Template.Spec }),
}

// podSpecOf returns the pod template of a workload object of kind, or
// ok false for a kind the webhook does not inspect.
func podSpecOf(kind metav1.GroupVersionKind, raw []byte) (spec *corev1.PodSpec, ok bool, err error) {
	decode, ok := workloadKinds[kind.Group+"/"+kind.Kind]
	if !ok {
		return nil, false, nil
	}
	if spec, err = decode(raw); err != nil {
		return nil, true, fmt.Errorf("%s: %w", kind.Kind, err)
	}
	return spec, true, nil
}

// imagesOf lists the distinct images of a pod spec: containers, init
// containers and ephemeral containers.
func imagesOf(spec *corev1.PodSpec) []podImage {
	var out []podImage
	seen := map[string]bool{}
	add := func(kind, name, image string) {
		if image == "" || seen[image] {
			return
		}
		seen[image] = true
		out = append(out, podImage{image: image, container: kind + " " + name})
	}
	for _, c := range spec.InitContainers {
		add("init container", c.Name, c.Image)
	}
	for _, c := range spec.Containers {
		add("container", c.Name, c.Image)
	}
	for _, c := range spec.EphemeralContainers {
		add("ephemeral container", c.Name, c.Image)
	}
	return out
}

// validate answers an AdmissionReview, once the caller has shown a token
// when the webhook needs one.
func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Admission.RequireToken {
		s.authorize(reader, s.answerReview)(w, r)
		return
	}
	s.answerReview(w, r)
}

// answerReview answers an admission.k8s.io/v1 AdmissionReview: each image of
// the pod or workload template is decided by the policy; a deny of any
// refuses the request with a message naming the image, the rule and the
// worst findings; warns become admission warnings. The answer comes
// within the admission timeout: images not decided by then are denied
// (or, with FailOpen, admitted with a warning).
func (s *Server) answerReview(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReviewBytes))
	if err := dec.Decode(&review); err != nil {
		writeError(w, http.StatusBadRequest, "body: %v (want an admission.k8s.io/v1 AdmissionReview)", err)
		return
	}
	if review.Request == nil {
		writeError(w, http.StatusBadRequest, "the AdmissionReview has no request")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Admission.timeout())
	defer cancel()
	resp := s.review(ctx, review.Request)
	resp.UID = review.Request.UID
	writeJSON(w, http.StatusOK, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: resp,
	})
}

// review decides one admission request.
func (s *Server) review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Operation == admissionv1.Delete || req.Operation == admissionv1.Connect {
		return allow
	}
	spec, ok, err := podSpecOf(req.Kind, req.Object.Raw)
	if !ok {
		allow.Warnings = []string{fmt.Sprintf("customs does not inspect %s objects", req.Kind.Kind)}
		return allow
	}
	if err != nil {
		return refuse(http.StatusBadRequest, "customs could not read the object: "+err.Error())
	}
	images := imagesOf(spec)
	// An update is judged on the images it brings: a pod or workload
	// whose images were admitted is not refused a label change. New pods
	// are always judged on every image.
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if old, _, err := podSpecOf(req.Kind, req.OldObject.Raw); err == nil {
			images = added(images, imagesOf(old))
		}
	}
	if len(images) > maxImages {
		return refuse(http.StatusBadRequest, fmt.Sprintf("customs decides at most %d images per object, this one has %d", maxImages, len(images)))
	}
	results := s.decideImages(ctx, images, req.Namespace, secretNames(spec))
	var denied, warnings []string
	for i, res := range results {
		img := images[i]
		if res.err != nil {
			why := fmt.Sprintf("image %s (%s): no decision: %v", img.image, img.container, res.err)
			if s.cfg.Admission.FailOpen {
				warnings = append(warnings, clip("customs admitted "+why))
			} else {
				denied = append(denied, why)
			}
			continue
		}
		switch res.v.Action {
		case verdict.Deny:
			denied = append(denied, describeVerdict(img, res.v))
		case verdict.Warn:
			warnings = append(warnings, clip("customs: "+describeVerdict(img, res.v)))
		}
	}
	resp := allow
	if len(denied) > 0 {
		resp = refuse(http.StatusForbidden, "customs denied "+strings.Join(denied, "; "))
	}
	resp.Warnings = warnings
	return resp
}

// added returns the images of now that before does not have.
func added(now, before []podImage) []podImage {
	had := map[string]bool{}
	for _, im := range before {
		had[im.image] = true
	}
	var out []podImage
	for _, im := range now {
		if !had[im.image] {
			out = append(out, im)
		}
	}
	return out
}

func refuse(code int32, msg string) *admissionv1.AdmissionResponse {
	reason := metav1.StatusReasonForbidden
	if code == http.StatusBadRequest {
		reason = metav1.StatusReasonBadRequest
	}
	return &admissionv1.AdmissionResponse{Allowed: false,
		Result: &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}}
}

// describeVerdict says which image, which rule, why, and the worst
// findings.
func describeVerdict(img podImage, v verdict.Verdict) string {
	s := fmt.Sprintf("image %s (%s): rule %s: %s", img.image, img.container, v.Rule, v.Reason)
	var worst []string
	for _, f := range v.Findings {
		w := string(f.Severity) + " " + f.ID
		if f.Package != "" {
			w += " in " + f.Package
		}
		if f.FixedVersion != "" {
			w += " (fixed in " + f.FixedVersion + ")"
		}
		worst = append(worst, w)
	}
	if len(worst) > 0 {
		s += " [" + strings.Join(worst, ", ") + "]"
	}
	return s
}

func clip(s string) string {
	if len(s) <= maxWarning {
		return s
	}
	return s[:maxWarning-3] + "..."
}

type decision struct {
	v   verdict.Verdict
	err error
}

// decideImages decides each image (with the pull secrets of namespace
// the pod names), a few at a time, and returns when all are decided or
// ctx ends: an image not decided by then has an error.
func (s *Server) decideImages(ctx context.Context, images []podImage, namespace string, pullSecrets []string) []decision {
	out := make([]decision, len(images))
	var mu sync.Mutex
	done := make([]bool, len(images))
	finished := make(chan struct{})
	sem := make(chan struct{}, decideParallel)
	var wg sync.WaitGroup
	for i, img := range images {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			v, err := s.Decide(ctx, DecideRequest{Image: img.image, Namespace: namespace, Point: PointKubernetes, PullSecrets: pullSecrets})
			mu.Lock()
			out[i], done[i] = decision{v: v, err: err}, true
			mu.Unlock()
		})
	}
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	res := make([]decision, len(images))
	for i := range images {
		res[i] = out[i]
		if !done[i] {
			res[i].err = fmt.Errorf("not decided within %s", s.cfg.Admission.timeout())
		} else if errors.Is(res[i].err, context.DeadlineExceeded) {
			res[i].err = fmt.Errorf("not decided within %s: %w", s.cfg.Admission.timeout(), res[i].err)
		}
	}
	return res
}
