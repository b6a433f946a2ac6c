// Package httpapi is promolift's HTTP API: the gin routes under /api/v1,
// their request and response types (DTOs with snake_case JSON tags; the
// domain types in package experiments carry no JSON tags), bearer-token
// authentication with scopes, request limits, request logging, and the
// error table that turns domain errors into RFC 9457 problem documents
// (application/problem+json).
//
// The status codes are chosen consistently:
//
//   - 400 the request could not be read: malformed JSON, a JSON value of the
//     wrong type (the field is named), an empty body, invalid UTF-8, a bad
//     query parameter;
//   - 415 a Content-Type other than JSON (an absent Content-Type is read
//     as JSON);
//   - 413 a body over Config.MaxBodyBytes or a batch over
//     Config.MaxBatchEvents (the limit is in the detail);
//   - 422 the request was read but its definition breaks a domain rule
//     (weights that do not sum to 1, an unknown promotion type, ...), with
//     every problem listed in errors[];
//   - 401 (with WWW-Authenticate: Bearer) no valid API key, 403 a key without
//     the route's scope, 404 unknown resource, 409 a conflict (an illegal
//     status transition, an existing key, a concurrent change), 429, 503
//     (the store is down), 500 (never with internal details).
//
// Request bodies are decoded by github.com/go-json-experiment/json (the
// encoding/json v2 design) with its defaults, which refuse a name repeated
// in one object, invalid UTF-8 (and lone UTF-16 surrogate escapes) and
// nesting deeper than 10000, and match names to fields exactly. Ours adds
// only what the library does not do: the NUL check (PostgreSQL cannot store
// NUL; a NUL can only be written \u0000, so a search for that text rules
// it out), and every problem reported at its field: the library reports one
// error at a time, so decodeJSON mends that member (removes it, or makes
// it null) and decodes again, up to 20 problems (fewer for a large body:
// each costs three passes over it). Definitions add RejectUnknownMembers.
// An event batch is decoded in one pass when every event decodes;
// otherwise each event is decoded apart, so that a bad one is rejected
// alone.
//
// The library replaced a hand-written scanner and fast paths (validity,
// repeated names and NULs, and a hand-written decoder of the usual event)
// because it is at least as fast on every hot path. CPU time per operation,
// medians of 6 interleaved runs of the old and new test binaries on the
// shared 2-CPU machine (load 16-22; wall-clock figures there spread by
// ±50% and showed no significant difference): decoding a 1000-event batch
// 3.27 ms against 3.30 ms with the hand-written fast path (9.8k allocations
// against 15.3k); reading and decoding an assign body 5.4 µs against 8.3 µs;
// an OFREP context 10.2 µs against 13.4 µs (BenchmarkDecodeEventBatch,
// BenchmarkDecodeAssign, BenchmarkDecodeOFREP; docs/performance.md).
//
// Nothing here logs the Authorization header, tokens, unit ids or event
// bodies: the request log carries the method, the route pattern, the status,
// the duration, the request id and the API key's public id.
package httpapi
