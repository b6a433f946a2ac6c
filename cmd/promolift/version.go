package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/promolift
var version = "dev"

func init() {
	register(command{name: "version", summary: "print the version", run: runVersion})
}

func runVersion(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) int {
	bi, ok := debug.ReadBuildInfo()
	v := version
	if v == "dev" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version // go install github.com/promolift/promolift/cmd/promolift@v1.2.3
	}
	fmt.Fprintf(stdout, "promolift %s (%s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				fmt.Fprintf(stdout, ", commit %s", s.Value[:12])
			}
		}
	}
	fmt.Fprintln(stdout, ")")
	return 0
}
