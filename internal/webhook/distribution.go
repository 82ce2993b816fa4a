package webhook

import (
	"errors"
	"net/url"
)

// Media types of Distribution's notification envelopes: version 1 is sent
// by registry 2.x, version 2 by registry 3. Both have the same structure and
// ParseDistribution reads either.
const (
	DistributionEnvelopeV1 = "application/vnd.docker.distribution.events.v1+json"
	DistributionEnvelopeV2 = "application/vnd.docker.distribution.events.v2+json"
)

// distributionEnvelope is the part of a Distribution notification envelope
// customs reads.
type distributionEnvelope struct {
	Events boundedList[distributionEvent] `json:"events"`
}

// distributionEvent is the part of one Distribution event customs reads.
type distributionEvent struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Target struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		URL        string `json:"url"`
		Tag        string `json:"tag"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

// ParseDistribution returns the manifest pushes in a CNCF Distribution
// (Docker registry) notification envelope, {"events":[...]}: events whose
// action is "push" and whose target is a Docker schema 2 manifest or
// manifest list or an OCI image manifest or index. Other events (blob
// uploads, pulls, mounts, deletes, schema 1 manifests) are ignored.
//
// The registry host is the host of the target's URL, which the registry
// builds from its configured external address (or the forwarded or request
// host), else the event's request host.
//
// See the package documentation for how refused bodies and dropped entries
// are reported.
func ParseDistribution(body []byte) ([]Push, error) {
	var env distributionEnvelope
	if err := decodeBody(body, &env); err != nil {
		return nil, err
	}
	pushes := []Push{}
	var skipped []error
	for i, ev := range env.Events {
		if ev.Action != "push" || !isManifestType(ev.Target.MediaType) {
			continue
		}
		host := ev.Request.Host
		if u, err := url.Parse(ev.Target.URL); err == nil && u.Host != "" {
			host = u.Host
		}
		p, reason := validate(Push{
			Registry:   host,
			Repository: ev.Target.Repository,
			Digest:     ev.Target.Digest,
			Tag:        ev.Target.Tag,
			MediaType:  ev.Target.MediaType,
			EventID:    ev.ID,
		})
		if reason != "" {
			skipped = append(skipped, &SkipError{Index: i, EventID: clip(ev.ID), Reason: reason})
			continue
		}
		pushes = append(pushes, p)
	}
	return pushes, errors.Join(skipped...)
}
