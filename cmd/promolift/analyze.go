package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/promolift/promolift/stats"
	"github.com/promolift/promolift/stats/policy"
)

func init() {
	register(command{
		name:    "analyze",
		summary: "analyse summary statistics (JSON on stdin or --in) and print the results as JSON",
		run:     runAnalyze,
	})
	register(command{
		name:    "policy",
		summary: "learn a promotion policy from per-cell, per-fold statistics (JSON in, JSON out)",
		run:     runPolicy,
	})
	register(command{
		name:    "plan",
		summary: "sample size and minimum detectable effect (JSON in, JSON out)",
		run:     runPlan,
	})
}

// jsonCommand runs the shared flow of analyze and plan: parse --in, read
// the input, compute, write indented JSON. Validation errors exit 2 with the
// field named on stderr; other failures exit 1.
func jsonCommand(name string, args []string, stdin io.Reader, stdout, stderr io.Writer, compute func(io.Reader) (any, error)) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "read the input JSON from `FILE` instead of stdin")
	compact := fs.Bool("compact", false, "write compact JSON instead of indented")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: promolift %s [--in FILE] [--compact] < input.json\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	r := stdin
	if *in != "" && *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(r)
	if err != nil {
		fmt.Fprintf(stderr, "%s: reading the input: %v\n", name, err)
		return 2
	}
	if key := duplicateJSONKey(data); key != "" {
		fmt.Fprintf(stderr, "%s: %s: appears more than once in its object\n", name, key)
		return 2
	}
	res, err := compute(bytes.NewReader(data))
	if err != nil {
		var ve *stats.ValidationError
		var pe policy.ValidationErrors
		if errors.As(err, &ve) || errors.As(err, &pe) {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	if !*compact {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "%s: writing output: %v\n", name, err)
		return 1
	}
	return 0
}

func runAnalyze(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return jsonCommand("analyze", args, stdin, stdout, stderr, func(r io.Reader) (any, error) {
		in, err := stats.DecodeAnalyzeInput(r)
		if err != nil {
			return nil, err
		}
		return stats.Analyze(in)
	})
}

func runPlan(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return jsonCommand("plan", args, stdin, stdout, stderr, func(r io.Reader) (any, error) {
		in, err := stats.DecodePlanInput(r)
		if err != nil {
			return nil, err
		}
		return stats.Plan(in)
	})
}

// runPolicy learns a policy from the document GET
// /api/v1/experiments/{key}/policy?format=input answers (policy.Input) and
// prints policy.Output: the server's answer without its experiment,
// currency and horizon.
func runPolicy(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return jsonCommand("policy", args, stdin, stdout, stderr, func(r io.Reader) (any, error) {
		in, err := policy.DecodeInput(r)
		if err != nil {
			return nil, err
		}
		return policy.Learn(in)
	})
}
