package experiments

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error so that each layer can map it (HTTP status,
// exit code) without string matching.
type Kind int

// The error kinds. The zero Kind is an internal error.
const (
	KindInternal     Kind = iota
	KindInvalid           // the caller's input is wrong
	KindNotFound          // the named thing does not exist
	KindConflict          // the thing exists, or changed under the caller
	KindUnauthorized      // no valid credentials
	KindForbidden         // valid credentials without the right scope
	KindUnavailable       // a dependency (the database) is down
	KindTooLarge          // the input is over a limit
	KindRateLimited       // the caller is over its rate
)

var kindNames = [...]string{"internal", "invalid", "not_found", "conflict", "unauthorized", "forbidden", "unavailable", "too_large", "rate_limited"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Sentinels for errors.Is: errors.Is(err, ErrNotFound) is true for every
// *Error of KindNotFound.
var (
	ErrInvalid      = &Error{Kind: KindInvalid}
	ErrNotFound     = &Error{Kind: KindNotFound}
	ErrConflict     = &Error{Kind: KindConflict}
	ErrUnauthorized = &Error{Kind: KindUnauthorized}
	ErrForbidden    = &Error{Kind: KindForbidden}
	ErrUnavailable  = &Error{Kind: KindUnavailable}
	ErrTooLarge     = &Error{Kind: KindTooLarge}
	ErrRateLimited  = &Error{Kind: KindRateLimited}
)

// Error is the error type of the domain. Code is a stable snake_case
// identifier (for example "weights_sum"), Field the JSON-style path of the
// offending input (for example "variants[1].weight"), Message a sentence
// for people. Err, if set, is the underlying cause.
type Error struct {
	Kind    Kind
	Code    string
	Field   string
	Message string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Kind with no Code, or
// of the same Kind and Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && (t.Code == "" || t.Code == e.Code)
}

// Invalid returns a validation error for field.
func Invalid(field, code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a not-found error for the named thing.
func NotFound(what, key string) *Error {
	return &Error{Kind: KindNotFound, Code: what + "_not_found", Message: fmt.Sprintf("%s %q not found", what, key)}
}

// Conflict returns a conflict error.
func Conflict(code, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable wraps a cause as an unavailable-dependency error.
func Unavailable(err error) *Error {
	return &Error{Kind: KindUnavailable, Code: "store_unavailable", Message: "the store is unavailable", Err: err}
}

// KindOf returns the Kind of err: the Kind of the first *Error in its chain,
// KindInternal otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ValidationErrors collects several field errors; it is itself an error of
// KindInvalid whose message lists them all.
type ValidationErrors []*Error

func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(v, ErrInvalid) true.
func (v ValidationErrors) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == KindInvalid && t.Code == ""
}

// As lets errors.As find the first field error.
func (v ValidationErrors) As(target any) bool {
	if p, ok := target.(**Error); ok && len(v) > 0 {
		*p = v[0]
		return true
	}
	return false
}

// Err returns nil when v is empty and v otherwise.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

func (v *ValidationErrors) add(field, code, format string, args ...any) {
	*v = append(*v, Invalid(field, code, format, args...))
}
