package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/promolift/promolift/experiments"
)

func init() {
	register(command{name: "keys", summary: "create, list and revoke API keys directly in the database", run: runKeys})
}

func keysUsage(w io.Writer) {
	fmt.Fprintln(w, `usage:
  promolift keys create --scope admin|sdk|analyst [--name NAME] [--environment ENV] [--db DB]
  promolift keys list [--db DB]
  promolift keys revoke [--db DB] ID

The token of a new key is printed once on stdout; only its hash is stored.
--db defaults to $`+envDatabaseURL+` or `+defaultDB+`.`)
}

func runKeys(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		keysUsage(stderr)
		return 2
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		keysUsage(stderr)
		return 0
	}
	o := newOptions("keys "+sub, stderr)
	db := addDBOption(o)
	logs := addLogOptions(o)
	var scope, name, env *option
	switch sub {
	case "create":
		scope = o.add("scope", "", "", "the key's scope: admin, sdk or analyst (required)")
		name = o.add("name", "", "", "a name for people")
		env = o.add("environment", "", "", "for sdk keys: the only environment the key sees")
	case "list", "revoke":
	default:
		fmt.Fprintf(stderr, "promolift keys: unknown subcommand %q\n\n", sub)
		keysUsage(stderr)
		return 2
	}
	rest, err := o.parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "promolift keys %s: %s\n", sub, fmt.Sprintf(format, args...))
		return 2
	}
	switch {
	case sub == "revoke" && len(rest) != 1:
		return usageErr("want exactly one key ID (see 'promolift keys list')")
	case sub != "revoke" && len(rest) > 0:
		return usageErr("unexpected argument %q", rest[0])
	case sub == "create":
		if _, err := experiments.ParseScope(scope.value); err != nil {
			return usageErr("--scope must be admin, sdk or analyst")
		}
	}
	level, format, err := logs.resolve()
	if err != nil {
		return usageErr("%v", err)
	}
	log := newLogger(stderr, level, format)
	store, err := openStore(ctx, db.value, log)
	if err != nil {
		fmt.Fprintf(stderr, "promolift keys: %s: %v\n", describeDB(db.value), err)
		return 1
	}
	defer store.Close()
	svc := newService(store, log)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "promolift keys %s: %v\n", sub, err)
		if experiments.KindOf(err) == experiments.KindInvalid {
			return 2
		}
		return 1
	}
	cli := experiments.Principal{KeyID: "cli"}
	switch sub {
	case "create":
		k, token, err := svc.CreateKey(ctx, cli, name.value, experiments.Scope(scope.value), env.value)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "created %s key %s; the token above is shown once and never stored\n", k.Scope, k.ID)
	case "list":
		keys, err := svc.ListKeys(ctx, "")
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPE\tENVIRONMENT\tNAME\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, dash(k.Environment), dash(k.Name),
				stamp(k.CreatedAt), stamp(k.LastUsedAt), stamp(k.RevokedAt))
		}
		tw.Flush()
	case "revoke":
		if err := svc.RevokeKey(ctx, cli, rest[0]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", rest[0])
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
