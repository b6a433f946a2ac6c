package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
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
// ignored; every decoding error names its field.
func (a *api) decodeBody(c *gin.Context, v any) error {
	data, err := a.readBody(c, true)
	if err != nil {
		return err
	}
	if err := unmarshal(data, v); err != nil {
		return badRequest(err.Field, err.Code, err.Detail)
	}
	if field, code := scanJSON(data); code != "" {
		return scanProblem(field, code)
	}
	return nil
}

// decodeError is a JSON decoding failure located at a field.
type decodeError struct {
	Field  string
	Code   string
	Detail string
}

// unmarshal decodes data into v, turning decoding errors into field
// errors: a syntax error is about "body"; a value of the wrong type is
// about its full path, such as "variants[1].weight".
func unmarshal(data []byte, v any) *decodeError {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &decodeError{Field: "body", Code: "invalid_json",
			Detail: fmt.Sprintf("the body is not valid JSON: %v (at byte %d)", se, se.Offset)}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := pathAt(data, te.Offset)
		if field == "" {
			field = te.Field
		}
		if field == "" {
			return &decodeError{Field: "body", Code: "invalid_type", Detail: "must be a JSON object, not " + te.Value}
		}
		return &decodeError{Field: field, Code: "invalid_type",
			Detail: fmt.Sprintf("%s: must be %s, not %s", field, describeType(te), te.Value)}
	}
	return &decodeError{Field: "body", Code: "invalid_json", Detail: "the body could not be decoded: " + err.Error()}
}

// describeType names the JSON shape a Go type expects, for messages.
func describeType(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "another type"
	}
	switch te.Type.Kind().String() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "ptr":
		switch te.Type.Elem().Kind().String() {
		case "int", "int64", "int32":
			return "an integer"
		case "float64", "float32":
			return "a number"
		case "bool":
			return "true or false"
		case "string":
			return "a string"
		case "struct", "map":
			return "an object"
		}
	}
	return "another type"
}

// pathAt returns the path ("a.b[2].c") of the JSON value of data that ends
// at byte offset (for a scalar) or whose opening delimiter ends there (for
// an object or array), as reported by json.UnmarshalTypeError; "" when not
// found or when it is the top-level value.
func pathAt(data []byte, offset int64) string {
	type frame struct {
		array     bool
		index     int
		key       string
		expectKey bool
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		return b.String()
	}
	advance := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.array {
				f.index++
			} else {
				f.expectKey = true
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		end := dec.InputOffset()
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			advance()
			continue
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].expectKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].expectKey = false
			continue
		}
		if end >= offset {
			return path()
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{array: true})
		default:
			advance()
		}
	}
}

// scanJSON walks the JSON document data (already known to decode) and
// returns the path of the first string (key or value) that holds a NUL
// character, which PostgreSQL cannot store, with code "nul_character", or
// of the first key repeated in one object, with code "duplicate_key"
// (decoders disagree on which copy wins); "" when there is neither.
func scanJSON(data []byte) (field, code string) {
	type frame struct {
		array     bool
		index     int
		key       string
		expectKey bool
		seen      map[string]bool
	}
	var stack []*frame
	path := func(last string) string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
				continue
			}
			if f.expectKey {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		if last != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(last)
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	advance := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.array {
				f.index++
			} else {
				f.expectKey = true
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{expectKey: true})
			case '[':
				stack = append(stack, &frame{array: true})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1].expectKey {
				f := stack[n-1]
				if strings.ContainsRune(t, 0) {
					return path(strings.ReplaceAll(t, "\x00", `\u0000`)), "nul_character"
				}
				if f.seen == nil {
					f.seen = map[string]bool{}
				}
				if f.seen[t] {
					return path(t), "duplicate_key"
				}
				f.seen[t] = true
				f.key, f.expectKey = t, false
				continue
			}
			if strings.ContainsRune(t, 0) {
				return path(""), "nul_character"
			}
		}
		advance()
	}
}

// duplicateTopKey returns a key that appears twice in the top-level
// object of data, skipping nested values without walking them; "" when
// there is none or data is not an object.
func duplicateTopKey(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// scanProblem is the 400 problem of what scanJSON found at field.
func scanProblem(field, code string) *Problem {
	if code == "duplicate_key" {
		return badRequest(field, code, field+": appears more than once in its object")
	}
	return badRequest(field, code, field+": must not contain NUL characters (\\u0000)")
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
