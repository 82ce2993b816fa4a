package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/verdict"
)

// Pull secrets of the admission webhook: the kubernetes.io/dockerconfigjson
// (or legacy kubernetes.io/dockercfg) Secrets a pod's spec names in
// imagePullSecrets, as mounted under AdmissionConfig.PullSecretsDir:
// DIR/<namespace>/<secret name>/.dockerconfigjson (docs/kubernetes.md).
const (
	// maxPullSecretBytes bounds one pull secret file.
	maxPullSecretBytes = 64 << 10
	// dockerConfigJSON and dockerCfg are the keys of the two Secret
	// types, the file names they are mounted as.
	dockerConfigJSON = ".dockerconfigjson"
	dockerCfg        = ".dockercfg"
)

// k8sName is a DNS-1123 subdomain, as namespace and Secret names are:
// it cannot name a path outside the directory it is joined to.
var k8sName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// dockerAuth is one entry of a Docker config's auths.
type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// parseDockerConfig reads a .dockerconfigjson ({"auths": {KEY: entry}})
// or, legacy, a .dockercfg ({KEY: entry}) and returns the credentials of
// the first key that names the image's registry host (and, when the key
// has a path, a repository under it), or ok false.
func parseDockerConfig(data []byte, legacy bool, host, repository string) (c credentials, ok bool, err error) {
	var auths map[string]dockerAuth
	if legacy {
		err = json.Unmarshal(data, &auths)
	} else {
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		err = json.Unmarshal(data, &cfg)
		auths = cfg.Auths
	}
	if err != nil {
		return c, false, fmt.Errorf("not a Docker config: %w", err)
	}
	host = canonicalHost(host)
	best := -1
	var entry dockerAuth
	for key, a := range auths {
		h, p := splitAuthKey(key)
		if h != host || (p != "" && repository != p && !strings.HasPrefix(repository, p+"/")) {
			continue
		}
		// The longest (most specific) key wins, the same whatever the
		// map's order.
		if len(p) > best {
			best, entry = len(p), a
		}
	}
	if best < 0 {
		return c, false, nil
	}
	c, err = entry.credentials()
	return c, err == nil, err
}

// credentials are the entry's: auth (base64 of user:password) over the
// username and password fields; a registry token, or lacking user and
// password an identity token, as a bearer token.
func (a dockerAuth) credentials() (credentials, error) {
	c := credentials{Username: a.Username, Password: a.Password}
	if a.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Auth))
		if err != nil {
			return c, errors.New("the auth field is not base64")
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return c, errors.New("the auth field is not user:password")
		}
		c.Username, c.Password = user, pass
	}
	switch {
	case a.RegistryToken != "":
		c.Token = a.RegistryToken
	case a.IdentityToken != "" && c.Username == "" && c.Password == "":
		c.Token = a.IdentityToken
	}
	if c.Token == "" && (c.Username == "" || c.Password == "") {
		return c, errors.New("the entry has neither a user and password nor a token")
	}
	return c, nil
}

// splitAuthKey reads a key of auths — host, https://host, https://host/v1/,
// host/some/repository — as a canonical host and a repository path
// ("" for the whole registry).
func splitAuthKey(key string) (host, repository string) {
	key = strings.TrimSpace(key)
	if i := strings.Index(key, "://"); i >= 0 {
		key = key[i+3:]
	}
	host, p, _ := strings.Cut(key, "/")
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "v1" || p == "v2" {
		p = ""
	}
	return canonicalHost(host), p
}

// canonicalHost lower-cases a registry host and names Docker Hub one way.
func canonicalHost(h string) string {
	h = strings.ToLower(h)
	switch h {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}

// pullSecretCredentials returns the credentials for host/repository of
// the first of secrets (in namespace) that has an entry for it, and that
// secret's name; ok false when none has (or no directory is configured).
// Secrets are read from the directory as mounted, never out of
// DIR/<namespace>/<secret>: the ..data symbolic links of Secret volumes
// are followed within it only.
func (s *Server) pullSecretCredentials(namespace string, secrets []string, host, repository string) (c credentials, secret string, ok bool, err error) {
	dir := s.cfg.Admission.PullSecretsDir
	if dir == "" || len(secrets) == 0 || !k8sName.MatchString(namespace) || len(namespace) > 63 {
		return c, "", false, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return c, "", false, fmt.Errorf("pull secrets: %w", err)
	}
	defer root.Close()
	for _, name := range secrets {
		if !k8sName.MatchString(name) || len(name) > 253 {
			continue
		}
		c, ok, err = readPullSecret(root, namespace+"/"+name, host, repository)
		if err != nil {
			return c, "", false, fmt.Errorf("pull secret %s/%s: %w", namespace, name, err)
		}
		if ok {
			return c, name, true, nil
		}
	}
	return c, "", false, nil
}

// readPullSecret reads the Docker config of the secret directory at rel
// in root (none: ok false) and looks host/repository up in it.
func readPullSecret(root *os.Root, rel, host, repository string) (c credentials, ok bool, err error) {
	secret, err := root.OpenRoot(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	defer secret.Close()
	for _, file := range []string{dockerConfigJSON, dockerCfg} {
		data, err := readBounded(secret, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return c, false, err
		}
		c, ok, err = parseDockerConfig(data, file == dockerCfg, host, repository)
		if err != nil {
			return c, false, fmt.Errorf("%s: %w", file, err)
		}
		return c, ok, nil
	}
	return c, false, nil
}

// readBounded reads a regular file of root, up to maxPullSecretBytes.
func readBounded(root *os.Root, file string) ([]byte, error) {
	f, err := root.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", file)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPullSecretBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPullSecretBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", file, maxPullSecretBytes)
	}
	return data, nil
}

// checkPullSecretsDir makes sure the pull secrets directory, when
// configured, is one.
func checkPullSecretsDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--admission-pull-secrets: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--admission-pull-secrets %s is not a directory", dir)
	}
	return nil
}

// secretNames lists the pull secrets a pod spec names, in order.
func secretNames(spec *corev1.PodSpec) []string {
	var out []string
	for _, r := range spec.ImagePullSecrets {
		if r.Name != "" {
			out = append(out, r.Name)
		}
	}
	return out
}

// pullSecretSource sets src's credentials to those of the first of the
// request's pull secrets that has some for img's registry, and returns
// them (nil: none has, src is left as it is).
func (s *Server) pullSecretSource(req DecideRequest, img verdict.Image, src *source.Options) (*credentials, error) {
	c, secret, ok, err := s.pullSecretCredentials(req.Namespace, req.PullSecrets, img.Registry, img.Repository)
	if err != nil || !ok {
		return nil, err
	}
	src.Username, src.Password, src.RegistryToken = c.Username, c.Password, c.Token
	s.log.Debug("pull secret credentials", "image", req.Image, "namespace", req.Namespace, "secret", secret)
	return &c, nil
}
