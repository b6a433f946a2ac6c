package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// scanJSONTokens is the encoding/json Token based scanJSON that the fast
// scanner replaced, kept as the reference it is tested against: it
// returns the path of the first string (key or value) that holds a NUL
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

// duplicateTopKeyTokens is the Token based duplicateTopKey, kept as the
// reference: it returns a key that appears twice in the top-level
// object of data, skipping nested values without walking them; "" when
// there is none or data is not an object.
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
		field, code := scanJSON([]byte(c.in))
		if field != c.field || code != c.code {
			t.Errorf("scanJSON(%.80s) = %q, %q; want %q, %q", c.in, field, code, c.field, c.code)
		}
		if f, c2 := scanJSONTokens([]byte(c.in)); f != field || c2 != code {
			t.Errorf("scanJSON(%.80s) = %q, %q; the reference says %q, %q", c.in, field, code, f, c2)
		}
	}
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
		{`[]`, ""}, {`null`, ""}, {`"x"`, ""}, {`{}`, ""}, {`{"a":1}`, ""},
	} {
		if got := duplicateTopKey([]byte(c.in)); got != c.key {
			t.Errorf("duplicateTopKey(%.60s) = %q, want %q", c.in, got, c.key)
		}
		if ref := duplicateTopKeyTokens([]byte(c.in)); ref != c.key {
			t.Errorf("reference duplicateTopKey(%.60s) = %q, want %q", c.in, ref, c.key)
		}
	}
}

// TestScanInvalidJSON checks that the scanners stop quietly at anything
// that is not JSON (they are only given valid JSON).
func TestScanInvalidJSON(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"`, `{"a":`, `{"a":1,`, `[1,`, `"abc`, `"a\`, `{"a" 1}`, `{1:2}`, `]`, `}`, `[}`, `{"a":[}`, `"\u00`} {
		scanJSON([]byte(in))
		duplicateTopKey([]byte(in))
	}
}

func TestScanJSONAllocs(t *testing.T) {
	data := benchBatch()
	if n := testing.AllocsPerRun(10, func() {
		if _, code := scanJSON(data); code != "" {
			t.Fatal(code)
		}
		if duplicateTopKey(data) != "" {
			t.Fatal("duplicate")
		}
	}); n != 0 {
		t.Errorf("%v allocations per scan of a clean batch", n)
	}
}

// FuzzScanJSON checks scanJSON and duplicateTopKey against the Token based
// reference scanners on valid JSON.
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
			scanJSON(data) // never panics
			duplicateTopKey(data)
			return
		}
		field, code := scanJSON(data)
		if rf, rc := scanJSONTokens(data); field != rf || code != rc {
			t.Fatalf("scanJSON(%q) = %q, %q; the reference says %q, %q", data, field, code, rf, rc)
		}
		if key, ref := duplicateTopKey(data), duplicateTopKeyTokens(data); key != ref {
			t.Fatalf("duplicateTopKey(%q) = %q; the reference says %q", data, key, ref)
		}
	})
}
