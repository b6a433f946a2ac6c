package experiments_test

import (
	"context"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// Authenticate caches verified keys: a wrong secret never hits, RevokeKey
// invalidates at once, and a revocation behind the Service's back (another
// replica) is seen after the TTL.
func TestAuthenticateCache(t *testing.T) {
	ctx := context.Background()
	svc := specService(t)
	svc.SetAuthCacheTTL(200 * time.Millisecond)
	k, token, err := svc.CreateKey(ctx, specAdmin, "ci", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first verifies in the store, the others hit the cache
		p, err := svc.Authenticate(ctx, token)
		if err != nil || p.KeyID != k.ID || p.Scope != experiments.ScopeSDK {
			t.Fatalf("Authenticate = %+v, %v", p, err)
		}
	}
	if _, err := svc.Authenticate(ctx, token[:len(token)-1]+"x"); err == nil {
		t.Fatal("a wrong secret of a cached key authenticated")
	}
	if err := svc.RevokeKey(ctx, specAdmin, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token); err == nil {
		t.Fatal("a key revoked through the Service still authenticates")
	}

	// Revoked in the store directly, as another replica would: accepted
	// until the entry expires.
	k2, token2, err := svc.CreateKey(ctx, specAdmin, "ci2", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token2); err != nil {
		t.Fatal(err)
	}
	if err := svc.Store().RevokeKey(ctx, k2.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token2); err != nil {
		t.Fatalf("within the TTL the cached key should still authenticate: %v", err)
	}
	time.Sleep(250 * time.Millisecond)
	if _, err := svc.Authenticate(ctx, token2); err == nil {
		t.Fatal("a key revoked in the store still authenticates after the TTL")
	}

	// With the cache off every call reads the store.
	svc.SetAuthCacheTTL(0)
	k3, token3, err := svc.CreateKey(ctx, specAdmin, "ci3", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token3); err != nil {
		t.Fatal(err)
	}
	if err := svc.Store().RevokeKey(ctx, k3.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token3); err == nil {
		t.Fatal("with the cache off a revoked key still authenticates")
	}
}
