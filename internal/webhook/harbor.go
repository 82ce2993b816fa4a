package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// harborPushArtifact is the type of Harbor's artifact push notifications.
const harborPushArtifact = "PUSH_ARTIFACT"

// harborPayload is the part of a Harbor webhook payload (the "Default"
// format) customs reads.
type harborPayload struct {
	Type      string `json:"type"`
	OccurAt   int64  `json:"occur_at"`
	Operator  string `json:"operator"`
	EventData struct {
		Resources  boundedList[harborResource] `json:"resources"`
		Repository struct {
			Name         string `json:"name"`
			Namespace    string `json:"namespace"`
			RepoFullName string `json:"repo_full_name"`
		} `json:"repository"`
	} `json:"event_data"`
}

// harborResource is one artifact of a Harbor notification.
type harborResource struct {
	Digest      string `json:"digest"`
	Tag         string `json:"tag"`
	ResourceURL string `json:"resource_url"`
}

// ParseHarbor returns the pushes in a Harbor webhook payload in Harbor's
// default format: one per resource of a PUSH_ARTIFACT notification. Other
// notification types (pulls, deletes, scans, quota, replication, and
// payloads in the CloudEvents format) give no push and no error.
//
// The repository is the payload's repo_full_name (else namespace/name); the
// registry host is the host at the start of each resource_url, whose path
// must name the same repository. Harbor's payloads carry no media type, so
// MediaType is "", and the pushed artifact may be something other than an
// image (a Helm chart, a signature): the receiver learns that from the
// manifest. A tag equal to the digest (Harbor's way of saying "untagged")
// becomes "".
//
// See the package documentation for how refused bodies and dropped entries
// are reported.
func ParseHarbor(body []byte) ([]Push, error) {
	var payload harborPayload
	if err := decodeBody(body, &payload); err != nil {
		return nil, err
	}
	pushes := []Push{}
	if payload.Type != harborPushArtifact {
		return pushes, nil
	}
	repo := payload.EventData.Repository.RepoFullName
	if repo == "" && payload.EventData.Repository.Name != "" {
		repo = payload.EventData.Repository.Namespace + "/" + payload.EventData.Repository.Name
	}
	var skipped []error
	for i, res := range payload.EventData.Resources {
		host, path := splitResourceURL(res.ResourceURL)
		if host == "" {
			skipped = append(skipped, &SkipError{Index: i, Reason: "resource_url " + strconv.Quote(clip(res.ResourceURL)) + " names no registry host"})
			continue
		}
		if rest, ok := strings.CutPrefix(path, repo); !ok || (rest != "" && rest[0] != ':' && rest[0] != '@') {
			skipped = append(skipped, &SkipError{Index: i, Reason: "resource_url " + strconv.Quote(clip(res.ResourceURL)) +
				" does not name repository " + strconv.Quote(clip(repo))})
			continue
		}
		tag := res.Tag
		if tag == res.Digest {
			tag = ""
		}
		p, reason := validate(Push{
			Registry:   host,
			Repository: repo,
			Digest:     res.Digest,
			Tag:        tag,
			EventID:    harborEventID(payload.OccurAt, payload.Operator, res),
		})
		if reason != "" {
			skipped = append(skipped, &SkipError{Index: i, Reason: reason})
			continue
		}
		pushes = append(pushes, p)
	}
	return pushes, errors.Join(skipped...)
}

// splitResourceURL splits Harbor's resource_url, host/repository:tag or
// host/repository@digest (a scheme in front tolerated), at the first slash.
func splitResourceURL(s string) (host, path string) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	host, path, ok := strings.Cut(s, "/")
	if !ok {
		return "", ""
	}
	return host, path
}

// harborEventID derives a stable event id for one resource of a Harbor
// notification, which has no id of its own: the same for a payload Harbor
// sends again, different for another push.
func harborEventID(occurAt int64, operator string, res harborResource) string {
	h := sha256.New()
	for _, f := range []string{strconv.FormatInt(occurAt, 10), operator, res.ResourceURL, res.Digest, res.Tag} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return "harbor-" + hex.EncodeToString(h.Sum(nil))[:32]
}
