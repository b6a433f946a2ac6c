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
// Nothing here logs the Authorization header, tokens, unit ids or event
// bodies: the request log carries the method, the route pattern, the status,
// the duration, the request id and the API key's public id.
package httpapi
