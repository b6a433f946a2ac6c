// Command promolift is the promolift server and its command-line tools:
//
//	promolift serve      run the HTTP API (SQLite by default, PostgreSQL with --db)
//	promolift migrate    apply the database migrations
//	promolift keys       create, list and revoke API keys
//	promolift analyze    analyse summary statistics (JSON in, JSON out)
//	promolift plan       sample size and minimum detectable effect
//	promolift report     print an experiment's report from a server
//	promolift check      verify (and --repair) the rollups against raw events
//	promolift retention  drop whole months of raw events (PostgreSQL only)
//	promolift demo       run a simulated spring-sale experiment end to end
//	promolift loadgen    drive a server on loopback and print latencies
//	promolift version    print the version
//
// Each subcommand lives in its own file and registers itself from an init
// function, so adding one never touches main.go. This package holds flags,
// configuration and wiring only; the rules live in package experiments.
// Usage errors exit 2, internal errors exit 1.
//
// promolift retention -before YYYY-MM-DD (or -keep-months N: keep the
// current month and N before it) drops the monthly partitions of the
// PostgreSQL events table that end on or before the date, and their
// deduplication ids; -dry-run lists them and drops nothing. Only whole UTC
// months go. The rollups stay, so reports keep working, but events older
// than the horizon are rejected from then on (code too_old), and
// promolift check can no longer verify experiments with events in the
// dropped months (it says so, and refuses --repair). On a
// SQLite database it fails with a usage error: partitioning and retention
// need PostgreSQL.
//
// serve --pprof-addr 127.0.0.1:6060 (PROMOLIFT_PPROF_ADDR) opens a second,
// loopback-only listener with the net/http/pprof endpoints under
// /debug/pprof/ (heap, goroutine, profile, trace); it is off by default and
// never shares the API's port.
package main
