package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// problemTypePrefix prefixes a problem's code to form its type URI.
const problemTypePrefix = "urn:promolift:problem:"

// Problem is an RFC 9457 problem document with promolift's extensions:
// a machine-readable code, the offending field, every field error of a
// validation failure, and the request id.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	Field     string       `json:"field,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
}

// FieldError is one problem with one field.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// statusOf maps a domain error kind to its HTTP status. KindInvalid errors
// from the domain are definitions that break a rule: 422. Requests that
// cannot be read get 400 from the decoding code, which builds its problems
// directly.
func statusOf(k experiments.Kind) int {
	switch k {
	case experiments.KindInvalid:
		return http.StatusUnprocessableEntity
	case experiments.KindNotFound:
		return http.StatusNotFound
	case experiments.KindConflict:
		return http.StatusConflict
	case experiments.KindUnauthorized:
		return http.StatusUnauthorized
	case experiments.KindForbidden:
		return http.StatusForbidden
	case experiments.KindUnavailable:
		return http.StatusServiceUnavailable
	case experiments.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case experiments.KindRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// defaultCodes are the codes of problems whose error has none.
var defaultCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusUnprocessableEntity:   "invalid",
	http.StatusTooManyRequests:       "rate_limited",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// problemFor builds the problem document of err. Internal errors keep
// their details to the log.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	status := statusOf(experiments.KindOf(err))
	pr := &Problem{Status: status}
	if status == http.StatusInternalServerError {
		pr.Detail = "an internal error occurred; the request id identifies it in the server log"
		return pr
	}
	var ve experiments.ValidationErrors
	if errors.As(err, &ve) {
		for _, fe := range ve {
			pr.Errors = append(pr.Errors, FieldError{Field: fe.Field, Code: fe.Code, Detail: fe.Message})
		}
		if len(ve) > 0 {
			pr.Code, pr.Field = ve[0].Code, ve[0].Field
		}
		if len(ve) == 1 {
			pr.Detail = ve[0].Error()
		} else {
			pr.Detail = "the definition has several problems: see errors"
		}
		return pr
	}
	var de *experiments.Error
	if errors.As(err, &de) {
		pr.Code, pr.Field = de.Code, de.Field
		// The message only: the wrapped cause may hold internals.
		pr.Detail = de.Message
		if pr.Detail == "" {
			pr.Detail = de.Kind.String()
		}
		if de.Field != "" && de.Kind == experiments.KindInvalid {
			pr.Detail = de.Field + ": " + pr.Detail
			pr.Errors = []FieldError{{Field: de.Field, Code: de.Code, Detail: de.Message}}
		}
	}
	return pr
}

// Error makes *Problem usable as an error inside the package.
func (p *Problem) Error() string { return p.Detail }

// badRequest returns a 400 problem about field.
func badRequest(field, code, detail string) *Problem {
	return &Problem{Status: http.StatusBadRequest, Code: code, Field: field, Detail: detail,
		Errors: fieldErrors(field, code, detail)}
}

func fieldErrors(field, code, detail string) []FieldError {
	if field == "" {
		return nil
	}
	return []FieldError{{Field: field, Code: code, Detail: detail}}
}

// abortProblem writes the problem of err and stops the handler chain.
func abortProblem(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away: nobody reads the answer, and it is not
		// the server's failure. 499 is nginx's "client closed request".
		writeProblem(c, &Problem{Status: statusClientClosed, Code: "client_closed_request",
			Title: "Client Closed Request", Detail: "the client closed the request before the answer"})
		c.Abort()
		return
	}
	p := *problemFor(err)
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
		c.Set(ctxErr, err) // logged by the request logger, never sent
	}
	if p.Status == http.StatusServiceUnavailable {
		c.Set(ctxErr, err)
		p.Detail = "the service is temporarily unavailable"
	}
	writeProblem(c, &p)
	c.Abort()
}

// statusClientClosed is the status recorded (and logged) for a request
// whose client went away before the answer.
const statusClientClosed = 499

func writeProblem(c *gin.Context, p *Problem) {
	if p.Code == "" {
		p.Code = defaultCodes[p.Status]
		if p.Code == "" {
			p.Code = "error"
		}
	}
	if p.Type == "" {
		p.Type = problemTypePrefix + p.Code
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	p.RequestID = c.GetString(ctxRequestID)
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="promolift"`)
	}
	b, err := marshal(p)
	if err != nil { // cannot happen: only strings and ints
		b = []byte(`{"type":"urn:promolift:problem:internal","title":"Internal Server Error","status":500,"code":"internal"}`)
	}
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(p.Status, "application/problem+json", b)
}

// writeJSON writes v as JSON.
func writeJSON(c *gin.Context, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(status, "application/json; charset=utf-8", b)
}

// marshal encodes v as JSON without escaping <, > and & (the responses are
// JSON, never HTML).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
