package sdk

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultPollInterval    = 30 * time.Second
	DefaultQueueSize       = 10000
	DefaultBatchSize       = 100
	DefaultFlushInterval   = 5 * time.Second
	DefaultMaxRetries      = 5
	DefaultDedupeCacheSize = 100000
	DefaultRetryBackoff    = 500 * time.Millisecond
	maxBackoff             = 30 * time.Second
)

// Config configures a Client. Only ServerURL and Key are required.
type Config struct {
	// ServerURL is the promolift server, such as https://promolift.example.com.
	ServerURL string
	// Key is an API key with the sdk scope, sent as "Authorization: Bearer Key".
	Key string
	// PollInterval is how often the config is refetched when the stream is
	// off or down (default 30s).
	PollInterval time.Duration
	// Stream follows GET /api/v1/sdk/stream (server-sent events) and refetches
	// the config on every change; polling takes over while the stream is down.
	Stream bool
	// StaleAfter is how long the server may be unreachable before the client
	// reports NotifyStale (default 2×PollInterval, at least 1 minute).
	StaleAfter time.Duration
	// HTTPClient sends every request (default: a client with a 30s timeout
	// for config fetches and event batches; the stream uses no timeout).
	HTTPClient *http.Client
	// QueueSize bounds the event queue; when it is full the oldest events
	// are dropped and counted (default 10000).
	QueueSize int
	// BatchSize is the largest number of events in one POST (default 100).
	BatchSize int
	// FlushInterval is how often queued events are sent (default 5s). A full
	// batch is sent at once.
	FlushInterval time.Duration
	// MaxRetries bounds the retries of one batch before it goes back into
	// the queue for the next flush (0 means the default 5; negative: none).
	MaxRetries int
	// RetryBackoff is the first retry delay, doubled on each retry with
	// jitter, capped at 30s (default 500ms).
	RetryBackoff time.Duration
	// DedupeCacheSize bounds the cache that logs each (unit, experiment,
	// variant) exposure once (default 100000).
	DedupeCacheSize int
	// DisableExposures turns automatic exposure logging off.
	DisableExposures bool
	// Logger receives warnings (server errors, dropped events). Default: none.
	Logger *slog.Logger
}

func (c *Config) normalize() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sdk: Config.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.ServerURL == "" {
		bad("ServerURL", "required (such as https://promolift.example.com)")
	} else if u, err := url.Parse(c.ServerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("ServerURL", "must be an absolute http or https URL, got %q", c.ServerURL)
	}
	c.ServerURL = strings.TrimRight(c.ServerURL, "/")
	if strings.TrimSpace(c.Key) == "" {
		bad("Key", "required: an API key with the sdk scope")
	} else if strings.ContainsAny(c.Key, " \r\n\t") {
		bad("Key", "must not contain white space")
	}
	dur := func(field string, d *time.Duration, def time.Duration) {
		switch {
		case *d < 0:
			bad(field, "must not be negative, got %s", *d)
		case *d == 0:
			*d = def
		}
	}
	dur("PollInterval", &c.PollInterval, DefaultPollInterval)
	dur("FlushInterval", &c.FlushInterval, DefaultFlushInterval)
	dur("RetryBackoff", &c.RetryBackoff, DefaultRetryBackoff)
	staleDef := 2 * c.PollInterval
	if staleDef < time.Minute {
		staleDef = time.Minute
	}
	dur("StaleAfter", &c.StaleAfter, staleDef)
	num := func(field string, n *int, def int) {
		switch {
		case *n < 0:
			bad(field, "must not be negative, got %d", *n)
		case *n == 0:
			*n = def
		}
	}
	num("QueueSize", &c.QueueSize, DefaultQueueSize)
	num("BatchSize", &c.BatchSize, DefaultBatchSize)
	num("DedupeCacheSize", &c.DedupeCacheSize, DefaultDedupeCacheSize)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.BatchSize > c.QueueSize && c.QueueSize > 0 {
		bad("BatchSize", "must not exceed QueueSize (%d), got %d", c.QueueSize, c.BatchSize)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return errors.Join(errs...)
}
