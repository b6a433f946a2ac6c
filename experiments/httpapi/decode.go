package httpapi

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// readBody reads the request body within the configured limit after
// checking the Content-Type. checkUTF8 rejects a body that is not valid
// UTF-8 (the event batch checks each event instead, so that one bad event
// does not drop the others).
func (a *api) readBody(c *gin.Context, checkUTF8 bool) ([]byte, error) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
			return nil, &Problem{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
				Detail: fmt.Sprintf("the body must be JSON (Content-Type: application/json), not %q", ct)}
		}
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.MaxBodyBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Field: "body",
				Detail: fmt.Sprintf("the request body is larger than the limit of %d bytes", a.cfg.MaxBodyBytes)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &Problem{Status: http.StatusRequestTimeout, Code: "body_timeout", Field: "body",
				Detail: "the request body was not received in time"}
		}
		return nil, badRequest("body", "unreadable_body", "the request body could not be read")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, badRequest("body", "empty_body", "the request body is empty; send a JSON object")
	}
	if checkUTF8 && !utf8.Valid(data) {
		return nil, badRequest("body", "invalid_utf8", "the request body is not valid UTF-8")
	}
	return data, nil
}

// decodeBody reads the body and decodes it into v. Unknown fields are
// ignored; every problem is reported, each naming its field.
func (a *api) decodeBody(c *gin.Context, v any) error {
	return a.decodeWith(c, v, lenient)
}

// decodeWith reads the body and decodes it into v with opts (lenient or
// strict), turning the problems into one 400 problem.
func (a *api) decodeWith(c *gin.Context, v any, opts json.Options) error {
	data, err := a.readBody(c, true)
	if err != nil {
		return err
	}
	errs := decodeJSON(data, v, opts)
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return badRequest(errs[0].Field, errs[0].Code, errs[0].Detail)
	}
	return &Problem{Status: http.StatusBadRequest, Code: errs[0].Code, Field: errs[0].Field, Errors: errs,
		Detail: "the request has several problems: see errors"}
}

// Request bodies are decoded by github.com/go-json-experiment/json (the
// encoding/json v2 design) with its defaults: a name repeated in one
// object and invalid UTF-8 are errors, names match struct fields exactly
// (case-sensitively), and arrays and objects nest at most 10000 deep.
// lenient ignores members that the Go type has no field for; strict (for
// definitions) rejects them.
var (
	lenient = json.JoinOptions()
	strict  = json.RejectUnknownMembers(true)
	// lax reads anything that is JSON, to locate and mend what the
	// decoder refused.
	lax = json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
)

// maxFieldErrors bounds the problems one body reports. Each costs three
// passes over the body, so a large body reports fewer: decodeJSON stops
// looking once the problems found times the body's size reach
// fieldErrorBytes (two problems for a body of 1 MiB).
const (
	maxFieldErrors  = 20
	fieldErrorBytes = 2 << 20
)

// decodeJSON decodes data into v (a pointer, zeroed first) with opts and
// returns every problem found, each naming its field
// ("variants[1].weight"): a value of the wrong type (invalid_type), an
// unknown member (unknown_field, with strict), a name repeated in its
// object (duplicate_key), a string holding a NUL character, which
// PostgreSQL cannot store (nul_character); the unknown members come last,
// and each kind in document order. A body that is not JSON, or not
// an object, is one problem about "body". When the only problems are at
// fields, v holds the rest of the document, decoded.
//
// The decoder reports one problem at a time, so each is mended (the
// member removed, or its value made null) and the body decoded again, up
// to maxFieldErrors problems (fewer for a large body).
func decodeJSON(data []byte, v any, opts json.Options) []FieldError {
	var found []locatedError
	doc := data
	for len(found) < maxFieldErrors && len(found)*len(data) < fieldErrorBytes {
		reflect.ValueOf(v).Elem().SetZero()
		err := json.Unmarshal(doc, v, opts)
		if err == nil {
			break
		}
		if len(found) == 0 {
			if serr := syntaxError(data); serr != nil {
				err = serr // not JSON: nothing else to say
			}
		}
		fe, ptr, mend := classify(err)
		if ptr == "" {
			return []FieldError{fe}
		}
		le := locate(data, ptr)
		fe.Field = le.Field
		le.FieldError = fe
		found = append(found, le)
		next := mendAt(doc, ptr, mend)
		if bytes.Equal(next, doc) {
			break
		}
		doc = next
	}
	found = append(found, nulStrings(data)...)
	slices.SortStableFunc(found, func(a, b locatedError) int {
		return cmp.Or(cmp.Compare(lastIfUnknown(a), lastIfUnknown(b)), cmp.Compare(a.offset, b.offset))
	})
	errs := make([]FieldError, 0, len(found))
	for _, le := range found {
		le.Detail = strings.ReplaceAll(le.Detail, "{field}", le.Field)
		if !slices.Contains(errs, le.FieldError) {
			errs = append(errs, le.FieldError)
		}
	}
	return errs
}

// syntaxError is the error of data when it is not one JSON value (the
// decoder may find a repeated name before).
func syntaxError(data []byte) error {
	return json.Unmarshal(data, new(jsontext.Value), jsontext.AllowDuplicateNames(true))
}

// lastIfUnknown orders the unknown members after the other problems.
func lastIfUnknown(le locatedError) int {
	if le.Code == "unknown_field" {
		return 1
	}
	return 0
}

// locatedError is a problem at a field that starts at offset of the
// document.
type locatedError struct {
	FieldError
	offset int64
}

// How a member at fault is mended before decoding again.
const (
	dropMember  = iota // remove the member (an unknown one)
	dropRepeats        // remove the repeats of the member, keeping the first
	nullValue          // make the value null (one of the wrong type)
)

// classify turns a decoding error into a field error (its Detail naming
// the field as "{field}"), the pointer to the value at fault ("" when the
// problem is about the whole body) and how to mend it.
func classify(err error) (FieldError, jsontext.Pointer, int) {
	var sy *jsontext.SyntacticError
	if errors.As(err, &sy) {
		if errors.Is(err, jsontext.ErrDuplicateName) && sy.JSONPointer != "" {
			return FieldError{Code: "duplicate_key", Detail: "{field}: appears more than once in its object"}, sy.JSONPointer, dropRepeats
		}
		return FieldError{Field: "body", Code: "invalid_json",
			Detail: fmt.Sprintf("the body is not valid JSON: %v (at byte %d)", sy.Err, sy.ByteOffset)}, "", 0
	}
	var se *json.SemanticError
	if !errors.As(err, &se) {
		return FieldError{Field: "body", Code: "invalid_json", Detail: "the body could not be decoded: " + err.Error()}, "", 0
	}
	if errors.Is(err, json.ErrUnknownName) {
		return FieldError{Code: "unknown_field",
			Detail: "{field}: is not a field of this definition (unknown fields are rejected; check the spelling)"}, se.JSONPointer, dropMember
	}
	got := kindName(se.JSONKind)
	if se.JSONKind == '0' && len(se.JSONValue) > 0 {
		got += " " + string(se.JSONValue)
	}
	if errors.Is(err, strconv.ErrRange) {
		if se.JSONPointer == "" {
			return FieldError{Field: "body", Code: "out_of_range", Detail: "the " + got + " is out of range"}, "", 0
		}
		return FieldError{Code: "out_of_range", Detail: "{field}: the " + got + " is out of range"}, se.JSONPointer, nullValue
	}
	if se.JSONPointer == "" {
		return FieldError{Field: "body", Code: "invalid_type", Detail: "must be a JSON object, not " + got}, "", 0
	}
	return FieldError{Code: "invalid_type", Detail: "{field}: must be " + describeType(se.GoType) + ", not " + got}, se.JSONPointer, nullValue
}

// kindName names a JSON kind for messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "bool"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "another value"
}

// describeType names the JSON shape a Go type expects, for messages.
func describeType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}

// fieldOf is the field that dec has just read (a name or a value), as
// errors name it: keys joined with '.', array indexes in brackets
// ("a.b[2].c"), a NUL shown as \u0000, "body" for the document itself.
// An empty name just read adds nothing.
func fieldOf(dec *jsontext.Decoder) string {
	var b strings.Builder
	depth := dec.StackDepth()
	level := 0
	for tok := range dec.StackPointer().Tokens() {
		level++
		k, n := dec.StackIndex(level)
		switch {
		case k == '[':
			b.WriteString("[" + tok + "]")
			continue
		case tok == "" && level == depth && n%2 == 1:
			continue
		case b.Len() > 0:
			b.WriteByte('.')
		}
		b.WriteString(strings.ReplaceAll(tok, "\x00", `\u0000`))
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// locate finds the value at ptr in data (JSON): its field (see fieldOf)
// and where its member or element starts.
func locate(data []byte, ptr jsontext.Pointer) locatedError {
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), lax)
	for {
		offset := dec.InputOffset()
		if _, err := dec.ReadToken(); err != nil {
			return locatedError{FieldError: FieldError{Field: "body"}, offset: offset}
		}
		if dec.StackPointer() == ptr {
			return locatedError{FieldError: FieldError{Field: fieldOf(dec)}, offset: offset}
		}
	}
}

// nul is how a NUL character is written in JSON (a NUL byte is not JSON).
var nul = []byte(`\u0000`)

// nulStrings finds the strings of data (JSON), names and values, that hold
// a NUL character.
func nulStrings(data []byte) []locatedError {
	if !bytes.Contains(data, nul) {
		return nil
	}
	var out []locatedError
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), lax)
	for len(out) < maxFieldErrors {
		offset := dec.InputOffset()
		tok, err := dec.ReadToken()
		if err != nil {
			break
		}
		if tok.Kind() == '"' && strings.IndexByte(tok.String(), 0) >= 0 {
			field := fieldOf(dec)
			out = append(out, locatedError{offset: offset, FieldError: FieldError{Field: field, Code: "nul_character",
				Detail: "{field}: must not contain NUL characters (\\u0000)"}})
		}
	}
	return out
}

// mendAt returns data (JSON) with the member or element at ptr mended as
// mend says.
func mendAt(data []byte, ptr jsontext.Pointer, mend int) []byte {
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), lax)
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out, lax)
	kept := false
	for {
		k, n := dec.StackIndex(dec.StackDepth())
		if k == '[' && dec.PeekKind() != ']' && mend == nullValue {
			elem := dec.StackPointer()
			if n > 0 {
				elem = elem.Parent()
			}
			if elem.AppendToken(strconv.FormatInt(n, 10)) == ptr {
				if dec.SkipValue() != nil || enc.WriteToken(jsontext.Null) != nil {
					return data
				}
				continue
			}
		}
		tok, err := dec.ReadToken()
		if err != nil {
			break
		}
		if k, n := dec.StackIndex(dec.StackDepth()); k == '{' && n%2 == 1 && dec.StackPointer() == ptr {
			switch {
			case mend == nullValue:
				if enc.WriteToken(tok) != nil || dec.SkipValue() != nil || enc.WriteToken(jsontext.Null) != nil {
					return data
				}
				continue
			case mend == dropMember || kept:
				if dec.SkipValue() != nil {
					return data
				}
				continue
			}
			kept = true
		}
		if enc.WriteToken(tok) != nil {
			return data
		}
	}
	return out.Bytes()
}

// checkParams rejects path parameters and query values that hold NUL
// characters or invalid UTF-8 before any handler passes them to a store.
func checkParams(c *gin.Context) {
	for _, p := range c.Params {
		if strings.ContainsRune(p.Value, 0) || !utf8.ValidString(p.Value) {
			abortProblem(c, badRequest(p.Key, "invalid_parameter", p.Key+": must be valid UTF-8 without NUL characters"))
			return
		}
	}
	for k, vs := range c.Request.URL.Query() {
		for _, v := range vs {
			if strings.ContainsRune(k+v, 0) || !utf8.ValidString(k+v) {
				abortProblem(c, badRequest(k, "invalid_parameter", "query parameter "+strconv.Quote(k)+": must be valid UTF-8 without NUL characters"))
				return
			}
		}
	}
	c.Next()
}

// syntaxProblem is the 400 problem of a body that is not JSON.
func syntaxProblem(err error) *Problem {
	fe, _, _ := classify(err)
	return badRequest(cmp.Or(fe.Field, "body"), fe.Code, strings.ReplaceAll(fe.Detail, "{field}", "body"))
}
