package experiments_test

import (
	"context"
	"sync/atomic"
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

// touchCounter is a store whose TouchKey counts its calls and holds each
// until release is closed.
type touchCounter struct {
	experiments.Store
	calls   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (s *touchCounter) TouchKey(ctx context.Context, id string, at time.Time) error {
	if s.calls.Add(1) == 1 {
		close(s.started)
	}
	<-s.release
	return s.Store.TouchKey(ctx, id, at)
}

// A key's last use is written by one request at a time: requests that
// find it stale while that write is in flight neither wait for it nor
// write the same row again.
func TestAuthenticateTouchesKeyOnce(t *testing.T) {
	ctx := context.Background()
	base := specService(t)
	_, token, err := base.CreateKey(ctx, specAdmin, "sdk", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	store := &touchCounter{Store: base.Store(), started: make(chan struct{}), release: make(chan struct{})}
	svc := experiments.NewService(store, nil)

	first := make(chan error, 1)
	go func() { _, err := svc.Authenticate(ctx, token); first <- err }()
	<-store.started // the first request is writing the key's last use
	others := make(chan error, 16)
	for range cap(others) {
		go func() { _, err := svc.Authenticate(ctx, token); others <- err }()
	}
	for i := range cap(others) {
		select {
		case err := <-others:
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			close(store.release)
			t.Fatalf("%d requests still wait for the first request's write of the key's last use", cap(others)-i)
		}
	}
	if n := store.calls.Load(); n != 1 {
		t.Errorf("TouchKey called %d times while the first write was in flight, want 1", n)
	}
	close(store.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if n := store.calls.Load(); n != 1 {
		t.Errorf("TouchKey called %d times after a fresh write, want 1 (last use is less than a minute old)", n)
	}
}
