package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
	"github.com/promolift/promolift/experiments/sqlite"
)

func main() {
	duration := flag.Duration("duration", 5*time.Minute, "how long to load the server")
	every := flag.Duration("every", 30*time.Second, "heap sampling interval")
	concurrency := flag.Int("concurrency", 8, "loadgen workers")
	flag.Parse()
	if err := run(*duration, *every, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "steadymem:", err)
		os.Exit(1)
	}
}

func run(duration, every time.Duration, concurrency int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "promolift-steadymem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "promolift")
	// Build in the product's own module (bench replaces it with ../), so
	// its go.sum, not bench's, resolves the binary's dependencies.
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/promolift/promolift").Output()
	if err != nil {
		return fmt.Errorf("find the promolift module: %w", err)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/promolift")
	build.Dir = strings.TrimSpace(string(root))
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build promolift: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "promolift.db"), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := experiments.NewService(store, nil)
	svc.SetConditionChecker(func(doc []byte) error { _, err := assign.ParseCondition(doc); return err })
	token, _, err := svc.EnsureAdminKey(ctx, "")
	if err != nil {
		return err
	}
	e := &experiments.Experiment{Key: "spring-sale", PrimaryMetric: "purchase",
		Variants: []experiments.Variant{{Key: "control", Weight: 0.5}, {Key: "ten_off", Weight: 0.5}}}
	if err := svc.CreateExperiment(ctx, experiments.Principal{}, e); err != nil {
		return err
	}
	if _, err := svc.Transition(ctx, experiments.Principal{}, "spring-sale", experiments.ActionStart); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: httpapi.New(svc, httpapi.Config{}, nil)}
	go srv.Serve(ln)
	defer srv.Close()

	lg := exec.Command(bin, "loadgen", "--server", "http://"+ln.Addr().String(), "--key", token,
		"--duration", duration.String(), "--concurrency", fmt.Sprint(concurrency), "--customers", "100000",
		"--experiment", "spring-sale")
	lg.Stdout, lg.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := lg.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- lg.Wait() }()
	fmt.Printf("%8s %14s %14s %12s %10s\n", "elapsed", "heap in use", "heap objects", "goroutines", "NumGC")
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			sample(start)
			return err
		case <-tick.C:
			sample(start)
		}
	}
}

func sample(start time.Time) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("%8s %11.1f MiB %14d %12d %10d\n", time.Since(start).Round(time.Second), float64(m.HeapInuse)/(1<<20),
		m.HeapObjects, runtime.NumGoroutine(), m.NumGC)
}
