//go:build ignore

// testsummary reads `go test -json` output on stdin, prints the usual
// per-package result lines and the output of failing tests, and ends with
// the skipped tests by name and a closing count line. It exits 1 when any
// test or package failed.
//
//	go test -json ./... | go run .ci/testsummary.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type counts struct{ passed, failed, skipped int }

func main() {
	var total counts
	var skips []string
	pkgs := map[string]*counts{}
	output := map[string][]string{} // package+test → output, kept until the test ends
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			fmt.Println(in.Text()) // build errors and other plain lines
			continue
		}
		c := pkgs[e.Package]
		if c == nil {
			c = &counts{}
			pkgs[e.Package] = c
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			output[id] = append(output[id], e.Output)
		case "pass", "skip", "fail":
			if e.Test == "" { // the package's result
				if e.Action == "fail" {
					fmt.Print(strings.Join(output[id], ""))
					total.failed++
				}
				word := map[string]string{"pass": "ok  ", "skip": "?   ", "fail": "FAIL"}[e.Action]
				fmt.Printf("%s\t%s\t%.1fs\t%d passed, %d failed, %d skipped\n", word, e.Package, e.Elapsed, c.passed, c.failed, c.skipped)
				delete(output, id)
				continue
			}
			switch e.Action {
			case "pass":
				c.passed++
				total.passed++
			case "skip":
				c.skipped++
				total.skipped++
				skips = append(skips, e.Package+" "+e.Test)
			case "fail":
				c.failed++
				total.failed++
				fmt.Print(strings.Join(output[id], ""))
			}
			delete(output, id)
		}
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Println("\nskipped tests:")
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", total.passed, total.failed, total.skipped)
	if total.failed > 0 {
		os.Exit(1)
	}
}
