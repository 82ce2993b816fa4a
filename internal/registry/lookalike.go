package registry

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/customs-scanner/customs/internal/model"
)

// WellKnown lists official and popular images (Docker Hub repository
// paths, "library/" left out) whose names attackers imitate.
var WellKnown = []string{
	"alpine", "ubuntu", "debian", "centos", "fedora", "rockylinux", "almalinux", "amazonlinux", "oraclelinux", "archlinux", "opensuse/leap",
	"busybox", "nginx", "httpd", "tomcat", "haproxy", "traefik", "caddy", "redis", "memcached", "postgres", "mysql", "mariadb",
	"mongo", "cassandra", "elasticsearch", "kibana", "logstash", "rabbitmq", "zookeeper", "node", "python", "golang", "openjdk",
	"eclipse-temurin", "amazoncorretto", "ruby", "php", "perl", "rust", "gcc", "maven", "gradle", "dotnet/sdk", "wordpress",
	"drupal", "joomla", "ghost", "nextcloud", "registry", "docker", "jenkins/jenkins", "sonarqube", "vault", "consul", "influxdb",
	"telegraf", "grafana/grafana", "prom/prometheus", "bitnami/nginx", "bitnami/redis", "bitnami/postgresql", "hello-world",
	"portainer/portainer-ce", "nginxinc/nginx-unprivileged", "gitlab/gitlab-ce", "mcr.microsoft.com/dotnet/aspnet",
}

// homoglyphs folds the characters a reference may hold (lowercase ASCII
// letters, digits, separators) that read like others: digits for
// letters, "rn" for "m", "vv" for "w", "cl" for "d".
var homoglyphs = strings.NewReplacer("0", "o", "1", "l", "3", "e", "5", "s", "7", "t", "rn", "m", "vv", "w", "cl", "d")

func skeleton(s string) string { return homoglyphs.Replace(s) }

// LookAlike reports ref when its repository imitates a well-known image:
// within a small edit distance (adjacent swaps count once), or the same
// once look-alike characters are folded. Exact names are not reported.
func LookAlike(ref name.Reference) *model.Finding {
	repo := ref.Context().RepositoryStr()
	reg := ref.Context().RegistryStr()
	full := strings.TrimPrefix(repo, "library/")
	if reg != name.DefaultRegistry {
		full = reg + "/" + repo
	}
	candidates := []string{full}
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		candidates = append(candidates, repo[i+1:]) // "someone/ngnix" imitates "nginx"
	} else if reg != name.DefaultRegistry {
		candidates = append(candidates, repo)
	}
	for _, known := range WellKnown {
		if full == known || strings.TrimPrefix(full, name.DefaultRegistry+"/") == known {
			return nil
		}
	}
	for _, c := range candidates {
		for _, known := range WellKnown {
			if c == known {
				continue
			}
			how := ""
			switch {
			case skeleton(c) == skeleton(known):
				how = "looks the same as"
			case closeTo(c, known):
				how = fmt.Sprintf("is %d edit(s) from", distance(c, known))
			default:
				continue
			}
			return &model.Finding{Class: model.ClassIntegrity, ID: "integrity-lookalike-name", Severity: model.High,
				Title: fmt.Sprintf("Repository name %q %s the well-known image %q", c, how, known),
				Description: "Attackers publish malicious images under names that imitate popular ones (typosquatting). Check that " + ref.String() +
					" is the image you meant; the official one is " + known + ".",
				Location: ref.String(), Extra: map[string]string{"repository": repo, "imitates": known}}
		}
	}
	return nil
}

// closeTo allows one edit for names of 4 to 8 characters and two for
// longer ones; shorter names are too close to everything.
func closeTo(a, b string) bool {
	if len(b) < 4 {
		return false
	}
	limit := 1
	if len(b) > 8 {
		limit = 2
	}
	d := distance(a, b)
	return d > 0 && d <= limit
}

// distance is the optimal-string-alignment edit distance (insertions,
// deletions, substitutions and swaps of adjacent characters).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 256 || len(rb) > 256 {
		return 1 << 30
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
