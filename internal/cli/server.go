package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/console"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// EnvDatabase names the server's database when --database is not given.
const EnvDatabase = "CUSTOMS_DATABASE"

// storeFlags are the flags that name the server's store, shared by
// `customs server` and its subcommands.
type storeFlags struct {
	dataDir, database string
}

func (f *storeFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "directory of the server's embedded store, layer cache and vulnerability database")
	fl.StringVar(&f.database, "database", os.Getenv(EnvDatabase), "PostgreSQL URL (postgres://...) shared by API and worker processes (or $"+EnvDatabase+"); empty: the embedded SQLite store under --data-dir")
}

// with runs fn on the migrated store the flags name; an error exits 2.
func (f *storeFlags) with(ctx context.Context, fn func(*store.Store) error) error {
	s, err := store.Open(ctx, f.database, f.dataDir)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return &exitError{ExitError, err}
	}
	if err := fn(s); err != nil {
		return &exitError{ExitError, err}
	}
	return nil
}

// defaultDataDir is $XDG_DATA_HOME/customs, or ~/.local/share/customs.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "customs")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "customs")
	}
	return filepath.Join(os.TempDir(), "customs-data")
}

func newServerCmd(stdout, stderr io.Writer) *cobra.Command {
	var sf storeFlags
	var cfg server.Config
	var analysis analysisFlags
	var logFormat string
	var keepHistoryDays int
	var layerCacheMB int64
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run customs as a service: an HTTP API and scan workers",
		Long: `Run customs as a service. It keeps every scanned image, its references and
every scan's report in a store, runs scans as jobs from a queue, and serves
an HTTP API (see docs/api.yaml) and, at /, the web console (sign in with
an API token).

With no configuration it listens on 127.0.0.1:8080, keeps everything in an
embedded SQLite file under --data-dir and scans in-process. With --database
postgres://... any number of processes share the store and the job queue:
--role api serves the API only, --role worker runs scans only.

Every API call but /healthz, /readyz and /metrics needs a token:
create one with "customs server token create --role admin".
The API is served over plain HTTP only on a loopback address, unless
--insecure-listen; otherwise give --tls-cert and --tls-key.

--watch-docker, --watch-containerd and --watch-podman scan every image the
host's engines hold, then each that appears; images that leave an engine
are marked removed, renamed ones keep their scan. Their scans run on this
host's own queue, under its --host-name; GET /api/v1/hosts shows each
watching host and whether its heartbeat (every 30 s) stopped.

SIGTERM or Ctrl-C stops taking requests, gives running scans
--shutdown-grace to finish, and hands the rest back to the queue.`,
		Example: `  customs server token create --role admin > token
  customs server &
  curl -H "Authorization: Bearer $(cat token)" -d '{"image":"alpine:3.19"}' localhost:8080/api/v1/scans`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("memory-limit-mb") {
				setMemoryLimit(serverMemoryLimitMB(cfg.Workers))
			}
			if keepHistoryDays < 0 {
				return &exitError{ExitError, fmt.Errorf("--keep-history-days %d: want 0 (keep all) or more", keepHistoryDays)}
			}
			cfg.KeepHistory = time.Duration(keepHistoryDays) * 24 * time.Hour
			if layerCacheMB < 0 {
				return &exitError{ExitError, fmt.Errorf("--layer-cache-max-mb %d: want 0 (no bound) or more", layerCacheMB)}
			}
			cfg.LayerCacheMaxBytes = layerCacheMB << 20
			if err := analysis.apply(&cfg.Pipeline); err != nil {
				return &exitError{ExitError, err}
			}
			var h slog.Handler
			switch logFormat {
			case "json":
				h = slog.NewJSONHandler(stderr, nil)
			case "text":
				h = slog.NewTextHandler(stderr, nil)
			default:
				return &exitError{ExitError, fmt.Errorf("--log-format %q: want json or text", logFormat)}
			}
			cfg.Logger = slog.New(h)
			cfg.DataDir, cfg.Database = sf.dataDir, sf.database
			cfg.Pipeline.Version = Version
			cfg.Console = console.New
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := server.New(ctx, cfg)
			if err != nil {
				return &exitError{ExitError, err}
			}
			defer s.Close()
			if err := s.Run(ctx); err != nil {
				return &exitError{ExitError, err}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	sf.register(fl)
	fl.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the HTTP API")
	fl.StringVar(&cfg.Role, "role", server.RoleAll, "what this process does: all (API and scans), api, or worker (api and worker need --database)")
	fl.StringVar(&cfg.HostName, "host-name", "", "this host's name in the store (default: the machine's host name)")
	fl.IntVar(&cfg.Workers, "workers", 2, "scans run at once")
	fl.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM) of the API")
	fl.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key (PEM) of the API")
	fl.BoolVar(&cfg.InsecureListen, "insecure-listen", false, "allow plain HTTP on an address other machines can reach")
	fl.StringVar(&logFormat, "log-format", "text", "log format on standard error: text or json")
	fl.DurationVar(&cfg.VulnPoll, "vuln-poll", 10*time.Second, "how often a worker checks the store for a newer vulnerability database")
	fl.DurationVar(&cfg.DBUpdateEvery, "db-update-every", 0, "run `customs db update` into the store this often (one process of those sharing it does; 0: never)")
	fl.StringVar(&cfg.DBUpdate.Source, "db-update-source", vulndb.DefaultSource, "base URL of the OSV exports the scheduled update downloads (<base>/<Ecosystem>/all.zip)")
	fl.StringSliceVar(&cfg.DBUpdate.Ecosystems, "db-update-ecosystems", nil, "ecosystems the scheduled update fetches (default all that customs matches)")
	fl.IntVar(&cfg.KeepScans, "keep-scans", 100, "scans kept per image for its history (the latest always is; 0: all)")
	fl.IntVar(&keepHistoryDays, "keep-history-days", 365, "days events (new and resolved findings) and logged admission verdicts are kept (0: all)")
	fl.Int64Var(&layerCacheMB, "layer-cache-max-mb", 4096, "size of the shared layer cache in the store, in MiB; the least recently used layers beyond it are evicted hourly (0: no bound)")
	fl.StringVar(&cfg.SecretKeyFile, "secret-key-file", "", "file with the key registry credentials are encrypted with: 32 bytes or 64 hex characters, mode 600 (make one with `openssl rand -hex 32`)")
	fl.DurationVar(&cfg.RescueAfter, "rescue-after", 0, "a scan running longer than this is taken for lost (its worker died) and run again (default: --timeout + 5m)")
	fl.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long running scans may take to finish on shutdown")
	fl.StringVar(&cfg.Pipeline.Vuln.DBDir, "db-dir", "", "vulnerability database directory (default: db under --data-dir)")
	fl.StringVar(&cfg.Pipeline.CacheDir, "cache-dir", "", "layer cache directory (default: cache under --data-dir)")
	fl.Int64Var(&cfg.Pipeline.CacheMaxMB, "cache-max-mb", cache.DefaultMaxBytes>>20, "size the local layer cache is kept to, in MiB: the least recently used results beyond it are removed hourly (0: no bound)")
	fl.DurationVar(&cfg.Pipeline.Timeout, "timeout", 30*time.Minute, "give up a scan after this long")
	fl.IntVar(&cfg.Pipeline.Parallel, "parallel", 0, "layers one scan analyses at once (default: number of CPUs)")
	fl.Int64Var(&cfg.Pipeline.Limits.MaxFileBytes, "max-file-size", layer.DefaultMaxFileBytes, "bytes read from one file for analysis")
	fl.Int64Var(&cfg.Pipeline.Limits.MaxLayerBytes, "max-layer-size", layer.DefaultMaxLayerBytes, "uncompressed bytes allowed in one layer")
	fl.IntVar(&cfg.Pipeline.Limits.MaxEntries, "max-entries", layer.DefaultMaxEntries, "entries allowed in one layer")
	fl.BoolVar(&cfg.Watch.Docker, "watch-docker", false, "scan every image of the local Docker Engine, and each that appears; mark those removed")
	fl.StringVar(&cfg.Watch.DockerHost, "docker-host", "", "Docker Engine address (default: $DOCKER_HOST or unix:///var/run/docker.sock)")
	fl.BoolVar(&cfg.Watch.Containerd, "watch-containerd", false, "scan every image of the local containerd, and each that appears; mark those removed")
	fl.StringVar(&cfg.Watch.ContainerdAddress, "containerd-address", "", "containerd socket (default: $CONTAINERD_ADDRESS or /run/containerd/containerd.sock)")
	fl.StringVar(&cfg.Watch.ContainerdNamespace, "containerd-namespace", "", "containerd namespace to watch (default: $CONTAINERD_NAMESPACE, else every namespace)")
	fl.BoolVar(&cfg.Watch.Podman, "watch-podman", false, "scan every image of the local Podman, and each that appears; mark those removed")
	fl.StringVar(&cfg.Watch.PodmanHost, "podman-host", "", "Podman API address (default: $CONTAINER_HOST or the Podman socket)")
	fl.StringVar(&cfg.HarborPath, "harbor-path", server.DefaultHarborPath, "where Harbor's pluggable scanner API is served (register http(s)://HOST:PORT"+server.DefaultHarborPath+" as the scanner's endpoint in Harbor; / for the root)")
	fl.BoolVar(&cfg.HarborInsecure, "harbor-insecure", false, "skip TLS certificate verification of the registries Harbor's scan requests name")
	fl.DurationVar(&cfg.Admission.Timeout, "admission-timeout", 8*time.Second, "longest answer of the Kubernetes admission webhook (POST /k8s/validate), digest look-ups and scans on demand included; keep it under the webhook's timeoutSeconds")
	fl.BoolVar(&cfg.Admission.FailOpen, "admission-fail-open", false, "admit workloads whose images could not be decided within --admission-timeout (default: deny them)")
	fl.BoolVar(&cfg.Admission.RequireToken, "admission-require-token", false, "the admission webhook needs an API token (read role) from the Kubernetes API server (see docs/kubernetes.md)")
	fl.StringVar(&cfg.Admission.PullSecretsDir, "admission-pull-secrets", "", "read the pull secrets pods name in imagePullSecrets from `DIR`, mounted as DIR/NAMESPACE/SECRET/.dockerconfigjson: their registry credentials resolve and scan the pods' images (see docs/kubernetes.md)")
	fl.StringVar(&cfg.DockerAuthz.Socket, "docker-authz-socket", "", "answer the Docker Engine (--docker-host) as its authorization plugin on this Unix socket: container creates from images the policy denies are refused (see docs/kubernetes.md)")
	fl.BoolVar(&cfg.DockerAuthz.FailOpen, "docker-authz-fail-open", false, "let container creates through when the plugin cannot decide (default: refuse them)")
	fl.DurationVar(&cfg.DockerAuthz.Timeout, "docker-authz-timeout", 25*time.Second, "longest the plugin takes over one decision, a scan on demand included (dockerd waits 30s)")
	analysis.register(fl, &cfg.Pipeline)
	cmd.AddCommand(newServerMigrateCmd(stdout), newServerTokenCmd(stdout))
	return cmd
}

func newServerMigrateCmd(stdout io.Writer) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the server's store up to the current schema (the server also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sf.with(cmd.Context(), func(s *store.Store) error {
				_, err := fmt.Fprintf(stdout, "%s: schema version %d\n", s.Where, store.SchemaVersion())
				return err
			})
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func newServerTokenCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage the server's API tokens"}
	var sf storeFlags
	var role, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it (only it) on standard output",
		Long: `Create an API token. Only its hash is stored: the token is printed once, on
standard output, and cannot be shown again. Role read may call every GET;
role admin may also queue and cancel scans and change the configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sf.with(cmd.Context(), func(s *store.Store) error {
				tok, err := s.CreateToken(cmd.Context(), role, name)
				if err == nil {
					fmt.Fprintln(stdout, tok)
				}
				return err
			})
		},
	}
	sf.register(create.Flags())
	create.Flags().StringVar(&role, "role", store.RoleRead, "the token's role: read or admin")
	create.Flags().StringVar(&name, "name", "", "a name to tell the token from others")
	cmd.AddCommand(create)
	return cmd
}
