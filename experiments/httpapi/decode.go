package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
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
	All    []FieldError // every problem found, when there are several (the first is the above)
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
//
// Keys are compared as decoded strings, so "a" and "\u0061" are the same
// key. It allocates nothing when it finds nothing, unless an object holds
// many keys.
func scanJSON(data []byte) (field, code string) {
	s := newJSONScan(data)
	defer s.free()
	if s.value(s.space(0), 0) >= 0 || s.code == "" {
		return "", ""
	}
	return s.field(), s.code
}

// duplicateTopKey returns a key that appears twice in the top-level
// object of data (already known to decode), decoded, skipping nested
// values without checking them; "" when there is none or data is not an
// object.
func duplicateTopKey(data []byte) string {
	s := newJSONScan(data)
	defer s.free()
	i := s.space(0)
	if i >= len(data) || data[i] != '{' {
		return ""
	}
	var set map[string]struct{}
	if i = s.space(i + 1); i < len(data) && data[i] == '}' {
		return ""
	}
	for i < len(data) && data[i] == '"' {
		end, k, _ := s.str(i)
		if end < 0 {
			return ""
		}
		if s.seen(0, &set, k) {
			return s.name(k)
		}
		if i = s.space(end); i >= len(data) || data[i] != ':' {
			return ""
		}
		if i = s.skip(s.space(i + 1)); i < 0 {
			return ""
		}
		if i = s.space(i); i >= len(data) || data[i] != ',' {
			return ""
		}
		i = s.space(i + 1)
	}
	return ""
}

// maxNesting is how deeply encoding/json lets arrays and objects nest.
const maxNesting = 10000

// validJSON reports whether data is one JSON value with optional white
// space around it, exactly as json.Valid does (invalid UTF-8 in strings
// is accepted; more than maxNesting levels of nesting are not), only
// faster.
func validJSON(data []byte) bool {
	var objects [maxNesting/64 + 1]uint64 // bit d: the container at depth d+1 is an object
	depth, i := 0, 0
	space := func(i int) int {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
		return i
	}
	// member validates the key and colon at data[i], the start of an
	// object member, and returns the index past them (-1 if invalid).
	member := func(i int) int {
		if i >= len(data) || data[i] != '"' {
			return -1
		}
		if i = validString(data, i); i < 0 {
			return -1
		}
		if i = space(i); i >= len(data) || data[i] != ':' {
			return -1
		}
		return i + 1
	}
	for {
		// A value starts at or after i.
		if i = space(i); i >= len(data) {
			return false
		}
		switch c := data[i]; c {
		case '{', '[':
			if depth == maxNesting {
				return false
			}
			if c == '{' {
				objects[depth/64] |= 1 << (depth % 64)
			} else {
				objects[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			if i = space(i + 1); i < len(data) && (c == '{' && data[i] == '}' || c == '[' && data[i] == ']') {
				depth--
				i++
				break
			}
			if c == '{' {
				if i = member(i); i < 0 {
					return false
				}
			}
			continue
		case '"':
			i = validString(data, i)
		case 't':
			i = validLiteral(data, i, "true")
		case 'f':
			i = validLiteral(data, i, "false")
		case 'n':
			i = validLiteral(data, i, "null")
		default:
			i = validNumber(data, i)
		}
		if i < 0 {
			return false
		}
		// A value ended at i: close containers until the next value.
		for {
			i = space(i)
			if depth == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			object := objects[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			if c := data[i]; c == ',' {
				if i++; object {
					if i = member(space(i)); i < 0 {
						return false
					}
				}
				break
			} else if object && c == '}' || !object && c == ']' {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// validString returns the index past the JSON string whose opening quote
// is at data[i], or -1 if it is not valid (it holds a control character
// or a bad escape, or does not end).
func validString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if i++; i >= len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return -1
				}
				for _, h := range data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// validNumber returns the index past the JSON number at data[i], or -1
// if there is none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func validNumber(data []byte, i int) int {
	digits := func(i int) (int, bool) {
		start := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i, _ = digits(i)
	default:
		return -1
	}
	ok := true
	if i < len(data) && data[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	return i
}

// validLiteral returns the index past lit (true, false, null) at data[i],
// or -1 if it is not there.
func validLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// jsonScan is one scan of a JSON document for NUL characters and
// repeated keys (see scanJSON), of data known to be valid JSON. Given
// anything else its methods return nonsense or stop (returning -1 without
// a code), but never read outside data or loop forever.
type jsonScan struct {
	data []byte
	keys []jsonKey // the keys of the objects being scanned, innermost last

	// What was found: code, and the path to it, innermost first: the
	// segments and, for a key, the key itself (last).
	code    string
	last    string
	hasLast bool
	path    []pathSegment
}

// scanPool holds idle scans, so that scanning does not allocate.
var scanPool = sync.Pool{New: func() any { return &jsonScan{keys: make([]jsonKey, 0, 64)} }}

// newJSONScan returns a scan of data; free it when done.
func newJSONScan(data []byte) *jsonScan {
	s := scanPool.Get().(*jsonScan)
	s.data = data
	return s
}

// free returns s to the pool, without references into what it scanned.
func (s *jsonScan) free() {
	if cap(s.keys) > 1024 {
		return // let an unusually large scan go
	}
	*s = jsonScan{keys: s.keys[:0]}
	scanPool.Put(s)
}

// jsonKey is a string (a key) of the data being scanned.
type jsonKey struct {
	start, end int // data[start:end] is the string between its quotes
	// escaped is whether it holds an escape or invalid UTF-8, so that it
	// differs from its decoded form; seen records that form in decoded.
	escaped bool
	decoded string
}

// pathSegment is an object key or an array index of a path.
type pathSegment struct {
	key   string
	index int
	array bool
}

// maxScanDepth bounds the nesting the scan follows; encoding/json rejects
// deeper documents.
const maxScanDepth = 10001

// linearKeys is how many keys of one object are compared pairwise before
// the scan switches to a map.
const linearKeys = 16

// space returns the index of the first byte at or after i that is not
// JSON white space.
func (s *jsonScan) space(i int) int {
	for i < len(s.data) {
		switch s.data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// next reads what follows a member of an object, or an element of an
// array, that ends at data[i]: white space, then either a comma or the
// container's closing byte, end ('}' or ']'). After a comma it returns the
// index of the next member or element (past white space) and more true;
// after end, the index just past it and more false; -1 and false when
// neither follows.
func (s *jsonScan) next(i int, end byte) (j int, more bool) {
	if i = s.space(i); i < len(s.data) {
		switch s.data[i] {
		case ',':
			return s.space(i + 1), true
		case end:
			return i + 1, false
		}
	}
	return -1, false
}

// value scans the value starting at data[i] and returns the index just
// past it, or -1 when it found a NUL or a repeated key (and set code and
// the path from there) or stopped at invalid JSON.
func (s *jsonScan) value(i, depth int) int {
	if i >= len(s.data) || depth > maxScanDepth {
		return -1
	}
	switch s.data[i] {
	case '"':
		end, _, nul := s.str(i)
		if nul {
			s.code = "nul_character"
			return -1
		}
		return end
	case '{':
		return s.object(i, depth)
	case '[':
		return s.array(i, depth)
	}
	return s.scalar(i)
}

// object scans the object whose '{' is at data[i], as value does.
func (s *jsonScan) object(i, depth int) int {
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var set map[string]struct{}
	if i = s.space(i + 1); i < len(s.data) && s.data[i] == '}' {
		return i + 1
	}
	for i < len(s.data) && s.data[i] == '"' {
		end, k, nul := s.str(i)
		switch {
		case end < 0:
			return -1
		case nul:
			s.code, s.last, s.hasLast = "nul_character", strings.ReplaceAll(s.name(k), "\x00", `\u0000`), true
			return -1
		case s.seen(base, &set, k):
			s.code, s.last, s.hasLast = "duplicate_key", s.name(k), true
			return -1
		}
		if i = s.space(end); i >= len(s.data) || s.data[i] != ':' {
			return -1
		}
		if i = s.value(s.space(i+1), depth+1); i < 0 {
			if s.code != "" {
				s.path = append(s.path, pathSegment{key: s.name(k)})
			}
			return -1
		}
		var more bool
		if i, more = s.next(i, '}'); !more {
			return i
		}
	}
	return -1
}

// array scans the array whose '[' is at data[i], as value does.
func (s *jsonScan) array(i, depth int) int {
	if i = s.space(i + 1); i < len(s.data) && s.data[i] == ']' {
		return i + 1
	}
	for n := 0; ; n++ {
		if i = s.value(i, depth+1); i < 0 {
			if s.code != "" {
				s.path = append(s.path, pathSegment{index: n, array: true})
			}
			return -1
		}
		var more bool
		if i, more = s.next(i, ']'); !more {
			return i
		}
	}
}

// scalar returns the index just past the number or literal at data[i].
func (s *jsonScan) scalar(i int) int {
	start := i
	for i < len(s.data) {
		switch s.data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		case '"', '{', '[', ':':
			return -1
		}
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// skip returns the index just past the value at data[i] without looking
// inside its strings, or -1 at invalid JSON.
func (s *jsonScan) skip(i int) int {
	if i >= len(s.data) {
		return -1
	}
	if c := s.data[i]; c != '{' && c != '[' {
		if c == '"' {
			end, _, _ := s.str(i)
			return end
		}
		return s.scalar(i)
	}
	depth := 0
	for i < len(s.data) {
		switch s.data[i] {
		case '"':
			end, _, _ := s.str(i)
			if end < 0 {
				return -1
			}
			i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// str scans the string whose opening quote is at data[i]. It returns the
// index just past the closing quote (-1 if there is none), the string as
// a key, and whether it holds a NUL (the escape \u0000: a NUL byte is not
// valid JSON).
func (s *jsonScan) str(i int) (end int, k jsonKey, nul bool) {
	d := s.data
	start := i + 1
	q := bytes.IndexByte(d[start:], '"')
	if q < 0 {
		return -1, jsonKey{}, false
	}
	end = start + q
	if bytes.IndexByte(d[start:end], '\\') >= 0 {
		// Escapes: find the closing quote the slow way.
		end = -1
		for j := start; j < len(d); j++ {
			if c := d[j]; c == '"' {
				end = j
				break
			} else if c == '\\' {
				if j+5 < len(d) && d[j+1] == 'u' && string(d[j+2:j+6]) == "0000" {
					nul = true
				}
				j++
			}
		}
		if end < 0 {
			return -1, jsonKey{}, false
		}
		k = jsonKey{start: start, end: end, escaped: true}
		return end + 1, k, nul
	}
	k = jsonKey{start: start, end: end, escaped: !utf8.Valid(d[start:end])}
	return end + 1, k, false
}

// name is the decoded key k.
func (s *jsonScan) name(k jsonKey) string {
	if !k.escaped {
		return string(s.data[k.start:k.end])
	}
	if k.decoded == "" {
		_ = json.Unmarshal(s.data[k.start-1:k.end+1], &k.decoded)
	}
	return k.decoded
}

// seen reports whether the key k was seen before in the object whose keys
// start at keys[base] (or are in *set, once there are many), and records
// it.
func (s *jsonScan) seen(base int, set *map[string]struct{}, k jsonKey) bool {
	if k.escaped {
		k.decoded = s.name(k)
	}
	if *set != nil {
		name := s.name(k)
		if _, ok := (*set)[name]; ok {
			return true
		}
		(*set)[name] = struct{}{}
		return false
	}
	for _, o := range s.keys[base:] {
		if s.same(o, k) {
			return true
		}
	}
	s.keys = append(s.keys, k)
	if len(s.keys)-base > linearKeys {
		*set = make(map[string]struct{}, 2*linearKeys)
		for _, o := range s.keys[base:] {
			(*set)[s.name(o)] = struct{}{}
		}
		s.keys = s.keys[:base]
	}
	return false
}

// same reports whether the keys a and b decode to the same string.
func (s *jsonScan) same(a, b jsonKey) bool {
	switch {
	case !a.escaped && !b.escaped:
		return bytes.Equal(s.data[a.start:a.end], s.data[b.start:b.end])
	case a.escaped && b.escaped:
		return a.decoded == b.decoded
	case a.escaped:
		return a.decoded == string(s.data[b.start:b.end])
	default:
		return b.decoded == string(s.data[a.start:a.end])
	}
}

// field is the path of what the scan found, as scanJSON reports it: keys
// joined with '.', array indexes in brackets, "body" for the document.
func (s *jsonScan) field() string {
	var b strings.Builder
	for j := len(s.path) - 1; j >= 0; j-- {
		if seg := s.path[j]; seg.array {
			b.WriteString("[" + strconv.Itoa(seg.index) + "]")
		} else {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg.key)
		}
	}
	if s.hasLast && s.last != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.last)
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
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
