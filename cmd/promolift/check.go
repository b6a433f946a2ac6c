package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/promolift/promolift/experiments"
)

func init() {
	register(command{name: "check", summary: "verify the rollup tables against the raw events (--repair rebuilds them)", run: runCheck})
}

// rollupChecker is what promolift check needs of a store.
type rollupChecker interface {
	CheckRollups(ctx context.Context) ([]string, error)
	RecomputeRollups(ctx context.Context) error
}

// runCheck compares the rollups with a recomputation from the raw events
// and prints every difference. It exits 0 when they agree (or when
// --repair rebuilt them and they then agree), 1 when they differ or the
// check fails, and 2 on a usage error.
func runCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := newOptions("check", stderr)
	db := addDBOption(o)
	logs := addLogOptions(o)
	repair := o.fs.Bool("repair", false, "rebuild the rollups from the raw events when they differ, then check again")
	o.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: promolift check [--repair] [--db URL]")
		fmt.Fprintln(stderr, "\nCompares the rollup tables with a recomputation from the raw events, after folding")
		fmt.Fprintln(stderr, "the exposure journal into them.")
		fmt.Fprintln(stderr, "Exit status: 0 consistent (or repaired), 1 differences or failure, 2 usage error.")
		fmt.Fprintln(stderr, "\nflags:")
		o.printDefaults()
	}
	rest, err := o.parse(args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q (check takes only flags)", rest[0])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "promolift check: %v\n", err)
		return 2
	}
	level, format, err := logs.resolve()
	if err == nil && db.value == "" {
		err = db.errorf("must not be empty")
	}
	if err != nil {
		fmt.Fprintf(stderr, "promolift check: %v\n", err)
		return 2
	}
	log := newLogger(stderr, level, format)
	store, err := openStore(ctx, db.value, log)
	if err != nil {
		fmt.Fprintf(stderr, "promolift check: cannot open the database %s: %v\n", describeDB(db.value), err)
		return 1
	}
	defer store.Close()
	rc, ok := store.(rollupChecker)
	if !ok {
		fmt.Fprintf(stderr, "promolift check: the store of %s cannot check its rollups\n", describeDB(db.value))
		return 1
	}
	// The exposures acknowledged into the journal are checked too: folded
	// first, as a server would (one fold at a time, whichever process).
	if err := experiments.NewService(store, log).FoldExposureJournal(ctx); err != nil {
		fmt.Fprintf(stderr, "promolift check: %v\n", err)
		return 1
	}
	diffs, err := rc.CheckRollups(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "promolift check: %v\n", err)
		return 1
	}
	if h := retentionHorizon(ctx, store); !h.IsZero() {
		fmt.Fprintf(stdout, "note: 'promolift retention' dropped the events before %s: units first exposed before then\n"+
			"  are not checked, and --repair keeps their rollups as they are\n", h.Format("2006-01-02"))
	}
	if len(diffs) == 0 {
		fmt.Fprintln(stdout, "rollups are consistent with the raw events")
		return 0
	}
	fmt.Fprintf(stdout, "%d difference(s) between the rollups and the raw events:\n", len(diffs))
	for _, d := range diffs {
		fmt.Fprintln(stdout, "  "+d)
	}
	if !*repair {
		fmt.Fprintln(stdout, "run 'promolift check --repair' to rebuild the rollups from the raw events")
		return 1
	}
	if err := rc.RecomputeRollups(ctx); err != nil {
		fmt.Fprintf(stderr, "promolift check: repair: %v\n", err)
		return 1
	}
	diffs, err = rc.CheckRollups(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "promolift check: after repair: %v\n", err)
		return 1
	}
	if len(diffs) > 0 {
		fmt.Fprintf(stdout, "still %d difference(s) after the repair:\n", len(diffs))
		for _, d := range diffs {
			fmt.Fprintln(stdout, "  "+d)
		}
		return 1
	}
	fmt.Fprintln(stdout, "repaired: the rollups were rebuilt and are now consistent")
	return 0
}

// duplicateJSONKey returns the path of the first key that appears twice
// in one object of the JSON document data ("" when there is none or data
// is not valid JSON, which the decoder then reports). Decoders disagree on
// which copy wins, so a command refuses such input.
func duplicateJSONKey(data []byte) string {
	type frame struct {
		array     bool
		index     int
		key       string
		expectKey bool
		seen      map[string]bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	advance := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.array {
				f.index++
			} else {
				f.expectKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{expectKey: true, seen: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{array: true})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1].expectKey {
				f := stack[n-1]
				if f.seen[t] {
					var b strings.Builder
					for _, g := range stack[:n-1] {
						if g.array {
							b.WriteString("[" + strconv.Itoa(g.index) + "]")
						} else {
							if b.Len() > 0 {
								b.WriteByte('.')
							}
							b.WriteString(g.key)
						}
					}
					if b.Len() > 0 {
						b.WriteByte('.')
					}
					b.WriteString(t)
					return b.String()
				}
				f.seen[t] = true
				f.key, f.expectKey = t, false
				continue
			}
		}
		advance()
	}
}
