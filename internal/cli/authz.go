package cli

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/dockerauthz"
)

// EnvToken names the API token of `customs authz` when --token is not
// given.
const EnvToken = "CUSTOMS_TOKEN"

// newAuthzCmd is `customs authz`: a Docker Engine authorization plugin
// that asks a customs server for its verdicts.
func newAuthzCmd(stderr io.Writer) *cobra.Command {
	var r dockerauthz.Remote
	var socket string
	var failOpen bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "authz --server URL --socket PATH",
		Short: "Docker Engine authorization plugin deciding with a customs server's policy",
		Long: `authz answers the local Docker Engine as its authorization plugin on a Unix socket: a
container create is decided by the image policy of the customs server at --server, on the
server's stored report of the image (found by its image ID or registry digest). Everything else
passes. When the server cannot be asked, creates are refused unless --fail-open. Images the
server has no report of are scanned on demand from their registry when the policy says so.
A server on the engine's host can be the plugin itself: customs server --docker-authz-socket.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.Server == "" || socket == "" {
				return &exitError{ExitError, errors.New("--server and --socket are required")}
			}
			if r.Token == "" {
				r.Token = os.Getenv(EnvToken)
			}
			if r.Token == "" {
				return &exitError{ExitError, errors.New("an admin API token is required: --token or $" + EnvToken)}
			}
			if r.Engine == "" {
				r.Engine = os.Getenv(client.EnvOverrideHost)
			}
			if r.Engine == "" {
				r.Engine = client.DefaultDockerHost
			}
			if r.Host == "" {
				h, err := os.Hostname()
				if err != nil {
					return &exitError{ExitError, err}
				}
				r.Host = h
			}
			p := &dockerauthz.Plugin{Decider: &r, FailOpen: failOpen, Timeout: timeout, Log: slog.New(slog.NewTextHandler(stderr, nil))}
			return p.Serve(cmd.Context(), socket)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&r.Server, "server", "", "the customs server's URL (https://customs.example:8443)")
	fl.StringVar(&r.Token, "token", "", "an admin API token of the server (default $"+EnvToken+")")
	fl.StringVar(&socket, "socket", "", "the plugin's Unix socket, e.g. /run/docker/plugins/customs.sock")
	fl.StringVar(&r.Engine, "docker-host", "", "Docker Engine address (default: $DOCKER_HOST or unix:///var/run/docker.sock)")
	fl.StringVar(&r.Host, "host-name", "", "this machine's name for the policy's match.hosts (default: the host name)")
	fl.BoolVar(&failOpen, "fail-open", false, "let container creates through when the server cannot decide (default: refuse them)")
	fl.DurationVar(&timeout, "timeout", dockerauthz.DefaultTimeout, "longest wait for one decision (dockerd waits 30s)")
	return cmd
}
