// Package console is the web console of promolift, served under /console by
// the same binary: the pages on which the people who run promotions list,
// define, start, pause, stop and archive experiments, ask which variant a
// customer gets and why, edit flags, and (admin keys only) create and
// revoke API keys and read the audit log.
//
// Sign-in is the report pages' (httpapi): `?token=` once, then an HttpOnly
// cookie; analyst keys read, admin keys also change. The experiment form
// posts application/x-www-form-urlencoded fields named by the API's field
// paths (`variants[0].weight`, …), is decoded into httpapi.ExperimentRequest
// and validated by the Service, so a form and a JSON body fail the same way.
// Every state-changing form carries a token derived from the session (an
// HMAC, so replicas agree) and is refused when a browser marks it as
// cross-site. Pages are html/template with embedded CSS and no script or
// asset from the network. docs/console.md lists the pages (Routes).
package console
