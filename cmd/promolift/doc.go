// Command promolift is the promolift server and its command-line tools:
//
//	promolift serve      run the HTTP API (SQLite by default, PostgreSQL with --db)
//	promolift migrate    apply the database migrations
//	promolift keys       create, list and revoke API keys
//	promolift analyze    analyse summary statistics (JSON in, JSON out)
//	promolift plan       sample size and minimum detectable effect
//	promolift report     print an experiment's report from a server
//	promolift check      verify (and --repair) the rollups against raw events
//	promolift demo       run a simulated spring-sale experiment end to end
//	promolift loadgen    drive a server on loopback and print latencies
//	promolift version    print the version
//
// Each subcommand lives in its own file and registers itself from an init
// function, so adding one never touches main.go. This package holds flags,
// configuration and wiring only; the rules live in package experiments.
// Usage errors exit 2, internal errors exit 1.
//
// serve --pprof-addr 127.0.0.1:6060 (PROMOLIFT_PPROF_ADDR) opens a second,
// loopback-only listener with the net/http/pprof endpoints under
// /debug/pprof/ (heap, goroutine, profile, trace); it is off by default and
// never shares the API's port.
package main
