// Package clamd is a client for ClamAV's daemon: it streams content with
// the INSTREAM command, over a Unix socket or TCP, with timeouts, and
// respects the daemon's StreamMaxLength by sending at most MaxStream bytes.
package clamd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for Client.
const (
	// DefaultMaxStream matches clamd's default StreamMaxLength (100 MB).
	DefaultMaxStream = 100 << 20
	DefaultTimeout   = 30 * time.Second
	chunkSize        = 64 << 10
	maxReply         = 4096
)

// Client talks to one clamd. It is safe for concurrent use. After a
// connection or timeout failure it stops trying (Failed reports why), so a
// daemon that is down costs one timeout, not one per file.
type Client struct {
	network, addr string
	// MaxStream is the most bytes sent for one file; set it to the
	// daemon's StreamMaxLength when that is lower than the default.
	MaxStream int64
	// Timeout bounds one scan: connecting, sending and the verdict.
	Timeout time.Duration
	failed  atomic.Pointer[error]
}

// New parses an address: unix:///path/clamd.sock, tcp://host:3310, a
// socket path or host:port.
func New(addr string) (*Client, error) {
	c := &Client{MaxStream: DefaultMaxStream, Timeout: DefaultTimeout}
	switch {
	case strings.HasPrefix(addr, "unix://"), strings.HasPrefix(addr, "tcp://"):
		u, err := url.Parse(addr)
		if err != nil {
			return nil, fmt.Errorf("clamd address %q: %w", addr, err)
		}
		c.network = u.Scheme
		c.addr = u.Host
		if u.Scheme == "unix" {
			c.addr = u.Path
		}
	case strings.Contains(addr, "://"):
		return nil, fmt.Errorf("clamd address %q: want unix:///path or tcp://host:port", addr)
	case strings.HasPrefix(addr, "/"):
		c.network, c.addr = "unix", addr
	case strings.Contains(addr, ":"):
		c.network, c.addr = "tcp", addr
	}
	if c.network == "" || c.addr == "" {
		return nil, fmt.Errorf("clamd address %q: want unix:///path or tcp://host:port", addr)
	}
	return c, nil
}

// Addr returns the daemon's address as network://address.
func (c *Client) Addr() string { return c.network + "://" + c.addr }

// Failed returns the error that made the client stop, or nil.
func (c *Client) Failed() error {
	if p := c.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// ErrUnavailable marks a daemon that could not be reached or did not answer in time.
var ErrUnavailable = errors.New("clamd unavailable")

// Result is clamd's verdict on one stream.
type Result struct {
	// Found is the signature name, "" when clean.
	Found string
	// Truncated is true when only the first MaxStream bytes were sent.
	Truncated bool
}

// Ping checks that the daemon answers PING with PONG.
func (c *Client) Ping(ctx context.Context) error {
	reply, err := c.roundTrip(ctx, func(w io.Writer) error {
		_, err := io.WriteString(w, "zPING\x00")
		return err
	})
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("clamd at %s answered PING with %q", c.Addr(), reply)
	}
	return nil
}

// Version returns the daemon's VERSION reply (engine and database version).
func (c *Client) Version(ctx context.Context) (string, error) {
	return c.roundTrip(ctx, func(w io.Writer) error {
		_, err := io.WriteString(w, "zVERSION\x00")
		return err
	})
}

// Scan streams data to the daemon and returns its verdict.
func (c *Client) Scan(ctx context.Context, data []byte) (Result, error) {
	if err := c.Failed(); err != nil {
		return Result{}, err
	}
	res := Result{}
	if int64(len(data)) > c.MaxStream {
		data, res.Truncated = data[:c.MaxStream], true
	}
	reply, err := c.roundTrip(ctx, func(w io.Writer) error {
		if _, err := io.WriteString(w, "zINSTREAM\x00"); err != nil {
			return err
		}
		var n [4]byte
		for len(data) > 0 {
			k := min(len(data), chunkSize)
			binary.BigEndian.PutUint32(n[:], uint32(k))
			if _, err := w.Write(n[:]); err != nil {
				return err
			}
			if _, err := w.Write(data[:k]); err != nil {
				return err
			}
			data = data[k:]
		}
		binary.BigEndian.PutUint32(n[:], 0)
		_, err := w.Write(n[:])
		return err
	})
	if err != nil {
		return res, err
	}
	// "stream: OK", "stream: Name FOUND", "INSTREAM size limit exceeded. ERROR".
	body := strings.TrimPrefix(reply, "stream: ")
	switch {
	case body == "OK":
		return res, nil
	case strings.HasSuffix(body, " FOUND"):
		res.Found = strings.TrimSuffix(body, " FOUND")
		return res, nil
	case strings.Contains(reply, "size limit exceeded"):
		return res, fmt.Errorf("clamd at %s: stream larger than its StreamMaxLength (lower MaxStream): %s", c.Addr(), reply)
	}
	return res, fmt.Errorf("clamd at %s: %s", c.Addr(), reply)
}

// roundTrip sends one command on a new connection and reads the
// NUL-terminated reply. Connection failures and timeouts stop the client.
func (c *Client) roundTrip(ctx context.Context, send func(io.Writer) error) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return "", c.fail(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := send(conn); err != nil {
		// clamd closes the connection once a stream exceeds its limit; its
		// reply may still be readable.
		if reply, rerr := readReply(conn); rerr == nil && reply != "" {
			return reply, nil
		}
		return "", c.fail(err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return "", c.fail(err)
	}
	return reply, nil
}

func readReply(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxReply))
	if err != nil && len(b) == 0 {
		return "", err
	}
	b = bytes.TrimRight(b, "\x00\n")
	if len(b) == 0 {
		return "", errors.New("empty reply")
	}
	return string(b), nil
}

func (c *Client) fail(err error) error {
	err = fmt.Errorf("%w: %s: %v", ErrUnavailable, c.Addr(), err)
	c.failed.CompareAndSwap(nil, &err)
	return err
}
