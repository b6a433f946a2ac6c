package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/promolift/promolift/experiments"
)

// TestSDKStreamLimitPerKey checks that a key keeps at most
// Config.MaxStreamsPerKey config streams open: the one over answers 429
// problem+json before any stream header, another key is not affected,
// and closing a stream makes room for a new one.
func TestSDKStreamLimitPerKey(t *testing.T) {
	e := newSDKEnvConfig(t, Config{MaxStreamsPerKey: 2})
	e.seed(t)
	_, other, err := e.svc.CreateKey(context.Background(), e.adminPrincipal, "other sdk", experiments.ScopeSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T, token string) (*http.Response, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/sdk/stream", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp, cancel
	}
	established := func(t *testing.T, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("stream: %d %s, want 200", resp.StatusCode, b)
		}
		select {
		case ev := <-sseEvents(resp.Body):
			if ev[0] != "config" {
				t.Fatalf("first event %q, want config", ev[0])
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no first event")
		}
	}
	refused := func(t *testing.T, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("stream over the limit: %d, want 429", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("Content-Type %q, want application/problem+json", ct)
		}
		var p Problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Code != "stream_limit" {
			t.Fatalf("problem %+v (%v), want code stream_limit", p, err)
		}
	}

	first, closeFirst := open(t, e.sdk)
	established(t, first)
	second, _ := open(t, e.sdk)
	established(t, second)
	third, _ := open(t, e.sdk)
	refused(t, third)
	t.Run("another key is not limited", func(t *testing.T) {
		resp, _ := open(t, other)
		established(t, resp)
	})
	t.Run("closing a stream makes room", func(t *testing.T) {
		closeFirst()
		first.Body.Close()
		// The server notices the closed stream asynchronously: retry
		// within a generous bound until a new stream is accepted.
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, cancel := open(t, e.sdk)
			if resp.StatusCode == http.StatusOK {
				established(t, resp)
				break
			}
			refused(t, resp)
			cancel()
			if time.Now().After(deadline) {
				t.Fatal("no stream accepted after closing one")
			}
			time.Sleep(20 * time.Millisecond)
		}
		again, _ := open(t, e.sdk)
		refused(t, again)
	})
}
