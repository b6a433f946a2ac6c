// Package sdk is the Go client of promolift: it keeps a local copy of the
// server's config snapshot (an assign.Spec), evaluates experiments and
// flags locally with package assign (no network on the hot path), and
// sends exposures and conversions to the server in batches.
//
// The client fetches GET /api/v1/sdk/config (with ETag / If-None-Match),
// then follows GET /api/v1/sdk/stream (server-sent events) when
// Config.Stream is set, or polls every Config.PollInterval; polling also
// takes over while the stream is down. When the server is unreachable the
// last good snapshot keeps being served. Before the first snapshot,
// evaluations return the caller's default with ErrorProviderNotReady.
//
// Exposures are logged once per (unit, experiment, variant) through a
// bounded dedupe cache. Exposures and conversions go into a bounded queue
// (the oldest are dropped, and counted, when it is full) and are posted to
// POST /api/v1/events in batches, retried with exponential backoff and
// jitter on network errors, 5xx and 429 (honouring Retry-After). Each
// event keeps the event_id it got when queued, so a retry is idempotent.
// Close flushes the queue.
//
// Customers' consent is honoured locally: the config marks the experiments
// that can give a promotion and lists the customers (unit attribute "id")
// who withdrew consent, hashed. For those experiments a listed customer
// gets control, not in the experiment (Assignment.Reason "optedOut",
// Evaluation.Reason OPTED_OUT); when the server could not list every
// opt-out, every customer gets control there (CONSENT_UNKNOWN). Budgets
// and frequency caps are applied by the server's assign and OFREP only.
//
// Usage:
//
//	client, err := sdk.New(ctx, sdk.Config{
//		ServerURL: "https://promolift.example.com",
//		Key:       os.Getenv("PROMOLIFT_SDK_KEY"),
//		Stream:    true,
//	})
//	if err != nil {
//		return err
//	}
//	defer client.Close(context.Background())
//	if err := client.WaitReady(ctx); err != nil {
//		log.Print(err) // evaluations return defaults until the config arrives
//	}
//
//	a := client.Run("spring-sale", assign.Attributes{"id": customerID, "country": "KR"})
//	if a.Variant == "ten_off" {
//		// show the 10% coupon
//	}
//	_ = client.Track(customerID, "purchase", 125000, "KRW", sdk.WithOrderID(orderID))
//
// The package imports only assign and the standard library.
package sdk
