package experiments_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/promolift/promolift/experiments"
)

// TestBoundKeysWriteOnlyTheirEnvironment: every Service method that
// creates or changes a resource of an environment holds a key bound to
// staging to staging, whatever transport calls it (the API, the console).
func TestBoundKeysWriteOnlyTheirEnvironment(t *testing.T) {
	ctx := context.Background()
	svc := specService(t)
	staging := experiments.Principal{KeyID: "st", Scope: experiments.ScopeAdmin, Environment: "staging"}
	startExperiment(t, svc, specExperiment("prod-exp", experiments.StatusDraft))
	flag := func(key, env string) *experiments.Flag {
		return &experiments.Flag{Key: key, Environment: env, Type: experiments.FlagBoolean, DefaultVariant: "off",
			Variants: map[string]json.RawMessage{"on": []byte("true"), "off": []byte("false")}}
	}
	if err := svc.CreateFlag(ctx, specAdmin, flag("prod-flag", "")); err != nil {
		t.Fatal(err)
	}
	prodKey, _, err := svc.CreateKey(ctx, specAdmin, "app", experiments.ScopeSDK, "production")
	if err != nil {
		t.Fatal(err)
	}
	wantErr := func(name string, err error, kind experiments.Kind) {
		t.Helper()
		if experiments.KindOf(err) != kind {
			t.Errorf("%s: %v, want %v", name, err, kind)
		}
	}
	refused := []struct {
		name string
		err  error
		kind experiments.Kind
	}{
		{"create an experiment in production", svc.CreateExperiment(ctx, staging, func() *experiments.Experiment {
			e := specExperiment("x", experiments.StatusDraft)
			e.Environment = "production"
			return e
		}()), experiments.KindForbidden},
		{"pause a production experiment", second(svc.Transition(ctx, staging, "prod-exp", experiments.ActionPause)), experiments.KindNotFound},
		{"rerandomize a production experiment", second(svc.Rerandomize(ctx, staging, "prod-exp", experiments.Rerandomization{})), experiments.KindNotFound},
		{"create a production flag", svc.CreateFlag(ctx, staging, flag("f2", "production")), experiments.KindForbidden},
		{"update a production flag", svc.UpdateFlag(ctx, staging, flag("prod-flag", "")), experiments.KindNotFound},
		{"delete a production flag", svc.DeleteFlag(ctx, staging, "prod-flag"), experiments.KindNotFound},
		{"mint a production key", third(svc.CreateKey(ctx, staging, "x", experiments.ScopeAdmin, "production")), experiments.KindForbidden},
		{"revoke a production key", svc.RevokeKey(ctx, staging, prodKey.ID), experiments.KindNotFound},
	}
	for _, r := range refused {
		wantErr(r.name, r.err, r.kind)
	}
	k, _, err := svc.CreateKey(ctx, staging, "minted", experiments.ScopeAdmin, "")
	if err != nil || k.Environment != "staging" {
		t.Fatalf("a staging key minted %+v, %v; want a key bound to staging", k, err)
	}
	e := specExperiment("st-exp", experiments.StatusDraft)
	if err := svc.CreateExperiment(ctx, staging, e); err != nil || e.Environment != "staging" {
		t.Fatalf("a staging key created %q, %v; want an experiment of staging", e.Environment, err)
	}
	if got, err := svc.GetExperiment(ctx, "prod-exp"); err != nil || got.Status != experiments.StatusRunning {
		t.Fatalf("the production experiment is %+v, %v", got, err)
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }
