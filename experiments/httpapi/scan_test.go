package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanJSONTokens is the encoding/json (v1) Token based scanner that
// decodeJSON's checks are tested against: it returns the path of the first string (key or value) that holds a NUL
// character, which PostgreSQL cannot store, with code "nul_character", or
// of the first key repeated in one object, with code "duplicate_key"
// (decoders disagree on which copy wins); "" when there is neither.
func scanJSONTokens(data []byte) (field, code string) {
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

// duplicateTopKeyTokens is the Token based reference for the repeated
// top-level names of an event batch: it returns a key that appears twice
// in the top-level object of data ("body" for the empty name), skipping
// nested values without walking them; "" when there is none or data is
// not an object.
func duplicateTopKeyTokens(data []byte) string {
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
			return cmp.Or(key, "body") // the empty name is named as the document
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// TestScanJSON checks that decodeJSON finds the NUL characters and the
// names repeated in one object that the reference scanner finds, at the
// same field.
func TestScanJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 500) + `{"k":1,"k":2}` + strings.Repeat(`]}`, 500)
	deepPath := strings.Repeat("a[0].", 500) + "k"
	deepNUL := strings.Repeat(`[`, 3000) + `"x\u0000"` + strings.Repeat(`]`, 3000)
	for _, c := range []struct{ in, field, code string }{
		{`{}`, "", ""},
		{`[]`, "", ""},
		{`"plain"`, "", ""},
		{`"a\u0000b"`, "body", "nul_character"},
		{`  null `, "", ""},
		{`{"a":1,"b":"x","c":[1,2,{"d":true}]}`, "", ""},
		{`{"a":1,"a":2}`, "a", "duplicate_key"},
		{`{"a":1,"\u0061":2}`, "a", "duplicate_key"},
		{`{"\u0061":1,"a":2}`, "a", "duplicate_key"},
		{`{"\u00e9":1,"é":2}`, "é", "duplicate_key"},
		{`{"a\/b":1,"a/b":2}`, "a/b", "duplicate_key"},
		{`{"A":1,"a":2}`, "", ""},
		{`{"":1,"":2}`, "body", "duplicate_key"},
		{`{"x":{"":1,"":2}}`, "x", "duplicate_key"},
		{`{"a":{"b":1},"c":{"b":1}}`, "", ""},
		{`{"events":[{"event_id":"e1","type":"exposure"},{"event_id":"e1","type":"x","type":"y"}]}`, "events[1].type", "duplicate_key"},
		{`{"event_id":"e","attributes":{"plan":"pro","plan":"free"}}`, "attributes.plan", "duplicate_key"},
		{`{"event_id":"e","attributes":{"pl\u0061n":"pro","plan":"free"}}`, "attributes.plan", "duplicate_key"},
		{`{"unit_id":"u\u0000"}`, "unit_id", "nul_character"},
		{`{"attributes":{"plan\u0000":"x"}}`, `attributes.plan\u0000`, "nul_character"},
		{`{"attributes":{"plan":"x\u0000"}}`, "attributes.plan", "nul_character"},
		{`{"a\u0000":1,"a\u0000":2}`, `a\u0000`, "nul_character"},
		{`{"a":"x\\u0000"}`, "", ""},
		{`{"a\\u0000":"x"}`, "", ""},
		{`{"a":"\\\u0000"}`, "a", "nul_character"},
		{`{"a":"\u00000"}`, "a", "nul_character"},
		{`{"a":"\u0001\u000a"}`, "", ""},
		{`{"a":[[1,[2,"\u0000"]]]}`, "a[0][1][1]", "nul_character"},
		{`[{"a":1},{"b":[{},{"c":1,"c":1}]}]`, "[1].b[1].c", "duplicate_key"},
		{`{"a":"x","a":"\u0000"}`, "a", "duplicate_key"},
		{`{"a":"\u0000","a":"x"}`, "a", "nul_character"},
		{`{"k":"a\"b","k\"":1,"k\"":2}`, `k"`, "duplicate_key"},
		{"{\"a\"\t:\n1 ,\r\"a\" : 2 }", "a", "duplicate_key"},
		{`{"":{"":{"x":"\u0000"}}}`, "x", "nul_character"},
		{`{"a":{"":{"x":"\u0000"}}}`, "a..x", "nul_character"},
		{`{"a":{"":[{"":1,"":2}]}}`, "a.[0]", "duplicate_key"},
		{deep, deepPath, "duplicate_key"},
		{deepNUL, strings.Repeat("[0]", 3000), "nul_character"},
		{manyKeys(40, 40), "", ""},
		{manyKeys(40, 7), "k7", "duplicate_key"},
		{manyKeys(40, 35), "k35", "duplicate_key"},
	} {
		errs := decodeJSON([]byte(c.in), new(any), lenient)
		if !hasScanProblem(errs, c.field, c.code) {
			t.Errorf("decodeJSON(%.80s) = %+v; want %q at %q", c.in, errs, c.code, c.field)
		}
		if f, c2 := scanJSONTokens([]byte(c.in)); f != c.field || c2 != c.code {
			t.Errorf("%.80s: the reference says %q, %q", c.in, f, c2)
		}
	}
}

// hasScanProblem reports whether errs holds the problem code at field, or
// when code is "", whether errs is empty.
func hasScanProblem(errs []FieldError, field, code string) bool {
	if code == "" {
		return len(errs) == 0
	}
	for _, fe := range errs {
		if fe.Field == field && fe.Code == code {
			return true
		}
	}
	return false
}

// manyKeys is an object with keys k0..k(n-1), then k(dup) again when dup
// < n.
func manyKeys(n, dup int) string {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range n {
		b.WriteString(`"k` + strconv.Itoa(i) + `":{"x":1},`)
	}
	b.WriteString(`"k` + strconv.Itoa(dup) + `":0}`)
	return b.String()
}

// TestDuplicateTopKey checks that an event batch naming a top-level
// member twice is refused, naming it, as the reference finds it.
func TestDuplicateTopKey(t *testing.T) {
	for _, c := range []struct{ in, key string }{
		{`{"events":[]}`, ""},
		{`{"events":[],"events":[]}`, "events"},
		{`{"events":[],"\u0065vents":[]}`, "events"},
		{`{"events":[{"a":1,"a":2}]}`, ""},
		{`{"events":[{"x":"}\"]"}],"n":{"events":1},"events":2}`, "events"},
		{`{"a\u0000":1,"a\u0000":2}`, "a\x00"},
		{"{\"a\xff\":1,\"a\xfe\":2}", "a\uFFFD"},
		{`{"\ud800":1,"\udc00":2}`, "\uFFFD"},
		{manyKeys(40, 33), "k33"},
		{`[]`, ""}, {`null`, ""}, {`"x"`, ""}, {`{}`, ""}, {`{"a":1}`, ""}, {`{"":[],"":[]}`, "body"},
	} {
		_, p := splitEventBatch([]byte(c.in))
		if got := duplicateKey(p); got != c.key {
			t.Errorf("splitEventBatch(%.60s) finds %q repeated, want %q (%+v)", c.in, got, c.key, p)
		}
		if ref := duplicateTopKeyTokens([]byte(c.in)); ref != c.key {
			t.Errorf("reference duplicateTopKey(%.60s) = %q, want %q", c.in, ref, c.key)
		}
	}
}

// duplicateKey is the field of p when it is a duplicate_key problem.
func duplicateKey(p *Problem) string {
	if p == nil || p.Code != "duplicate_key" {
		return ""
	}
	return p.Field
}

// TestScanInvalidJSON checks that what is not JSON is one invalid_json
// problem about the body.
func TestScanInvalidJSON(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"`, `{"a":`, `{"a":1,`, `[1,`, `"abc`, `"a\`, `{"a" 1}`, `{1:2}`, `]`, `}`, `[}`, `{"a":[}`, `"\u00`,
		`{"events":[],"events":[`, `{"events":[1,2]} x`, `00`, `[] []`, `{"events":[]} {}`} {
		errs := decodeJSON([]byte(in), new(any), lenient)
		if len(errs) != 1 || errs[0].Field != "body" || errs[0].Code != "invalid_json" {
			t.Errorf("decodeJSON(%q) = %+v", in, errs)
		}
		if _, p := splitEventBatch([]byte(in)); p == nil || p.Field != "body" || p.Code != "invalid_json" {
			t.Errorf("splitEventBatch(%q) = %+v", in, p)
		}
	}
}

// FuzzScanJSON checks decodeJSON's NUL and repeated-name checks and the
// batch's repeated top-level names against the Token based reference
// scanners, on valid JSON.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"\u0061":2}`, `{"a":{"b":[1,"\u0000"]}}`, `[{"x":"\\u0000"},{"y":1,"y":2}]`,
		`{"":{"":1,"":2}}`, `{"k\"":1,"k\"":2}`, "{\"a\xff\":1,\"a\xfe\":2}", `{"\ud800":1,"\udc00":2}`,
		`"\u0000"`, `123`, `{"events":[{"event_id":"e","attributes":{"p":"x","p":"y"}}]}`, manyKeys(20, 19),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		if key := duplicateTopKeyTokens(data); key != "" {
			if _, p := splitEventBatch(data); p == nil || p.Code == "duplicate_key" && p.Field != key {
				t.Fatalf("splitEventBatch(%q) = %+v; the reference finds %q repeated", data, p, key)
			}
		} else if _, p := splitEventBatch(data); duplicateKey(p) != "" {
			t.Fatalf("splitEventBatch(%q) = %+v; the reference finds no repeated name", data, p)
		}
		if !utf8.Valid(data) {
			return // refused before decoding
		}
		errs := decodeJSON(data, new(any), lenient)
		if len(errs) == 1 && errs[0].Code == "invalid_json" {
			return // a lone surrogate escape (FuzzValidJSON)
		}
		// A number beyond float64 is a problem of the target, not of the
		// names or the text, which the reference scanners check.
		errs = slices.DeleteFunc(errs, func(e FieldError) bool { return e.Code == "out_of_range" })
		if field, code := scanJSONTokens(data); !hasScanProblem(errs, field, code) {
			t.Fatalf("decodeJSON(%q) = %+v; the reference says %q at %q", data, errs, code, field)
		}
	})
}

// TestOutOfRangeNumber: a number that no float64 holds is named as out of
// range, at its field or at the body, not as a value of the wrong type.
func TestOutOfRangeNumber(t *testing.T) {
	var field struct {
		X float64 `json:"x"`
	}
	for _, c := range []struct {
		name, in, field string
		v               any
	}{
		{"body", `1e400`, "body", new(any)},
		{"field", `{"x":-1e400}`, "x", &field},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := decodeJSON([]byte(c.in), c.v, lenient)
			if len(errs) != 1 || errs[0].Code != "out_of_range" || errs[0].Field != c.field {
				t.Fatalf("decodeJSON(%s) = %+v; want out_of_range at %s", c.in, errs, c.field)
			}
		})
	}
}
