package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/promolift/promolift/experiments"
)

// refBatch is what encoding/json (v1) and the Token reference scanners make
// of an event batch, the reference decodeEventBatch is tested against:
// the code of the problem of the whole batch, or for each event whether
// it is rejected as it is decoded and, if not, the event (the domain's
// rules are checked later, by the service).
func refBatch(data []byte, maxEvents int) (code string, rejected []bool, valid []experiments.Event) {
	var batch struct {
		Events []json.RawMessage `json:"events"`
	}
	switch err := json.Unmarshal(data, &batch); {
	case err != nil && !json.Valid(data):
		return "invalid_json", nil, nil
	case err != nil:
		return "invalid_type", nil, nil
	case duplicateTopKeyTokens(data) != "":
		return "duplicate_key", nil, nil
	case batch.Events == nil:
		return "required", nil, nil
	case len(batch.Events) > maxEvents:
		return "too_many_events", nil, nil
	}
	for _, raw := range batch.Events {
		var d EventDTO
		ok := utf8.Valid(raw) && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &d) == nil
		if _, code := scanJSONTokens(raw); code != "" {
			ok = false
		}
		e, errs := eventOf(&d, nil) // the DTO as the service gets it, with its timestamp parsed
		ok = ok && errs == nil
		rejected = append(rejected, !ok)
		if ok {
			valid = append(valid, e)
		}
	}
	return "", rejected, valid
}

// comparable reports whether the reference decodes data as the API does:
// it matches names regardless of case and reads lone UTF-16 surrogate
// escapes as U+FFFD, where the API's decoder takes names as they are and
// refuses such escapes.
func comparable(data []byte) bool {
	if bytes.Contains(bytes.ToLower(data), []byte(`\ud`)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		s, ok := tok.(string)
		if !ok {
			continue
		}
		for _, name := range append(eventFieldNames, "events") {
			if s != name && strings.EqualFold(s, name) {
				return false
			}
		}
	}
}

// eventFieldNames are the JSON names of the EventDTO fields.
var eventFieldNames = []string{"event_id", "type", "experiment", "variant", "unit_id", "timestamp", "attributes",
	"name", "revenue", "promotion_cost", "currency", "order_id", "channel", "customer_id"}

// checkBatch compares decodeEventBatch with the reference on data; ""
// when they agree.
func checkBatch(t *testing.T, data []byte, maxEvents int) {
	t.Helper()
	got, p := decodeEventBatch(data, maxEvents)
	if p != nil && (p.Code == "" || p.Field == "" || p.Status < 400) {
		t.Fatalf("%.200q: malformed problem %+v", data, p)
	}
	for i, r := range got.results {
		if r.Index != i || r.Status == "rejected" && (r.Code == "" || r.Field == "" || len(r.Errors) == 0 || r.Errors[0].Field != r.Field) {
			t.Fatalf("%.200q: malformed result %d %+v", data, i, r)
		}
	}
	if !comparable(data) {
		return
	}
	code, rejected, valid := refBatch(data, maxEvents)
	if p != nil || code != "" {
		if p == nil || p.Code != code && !(code == "duplicate_key" && p.Code == "invalid_type") {
			t.Fatalf("%.200q: problem %+v; the reference says %q", data, p, code)
		}
		return
	}
	if len(got.results) != len(rejected) {
		t.Fatalf("%.200q: %d results; the reference has %d events", data, len(got.results), len(rejected))
	}
	for i, r := range got.results {
		if (r.Status == "rejected") != rejected[i] {
			t.Fatalf("%.200q: event %d %+v; the reference rejects it: %v", data, i, r, rejected[i])
		}
	}
	if len(got.valid) != len(valid) || len(valid) > 0 && !reflect.DeepEqual(got.valid, valid) {
		t.Fatalf("%.200q:\n got %+v\nwant %+v", data, got.valid, valid)
	}
}

// batchSeeds are batch bodies of the usual shape and of each unusual one.
var batchSeeds = []string{
	`{"events":[{"event_id":"e1","type":"exposure","unit_id":"u1","timestamp":"2026-03-01T12:00:00Z","experiment":"spring-sale","variant":"control"}]}`,
	`{"events":[{"event_id":"e2","type":"conversion","unit_id":"u1","timestamp":"2026-03-01T12:00:00Z","name":"purchase","revenue":125000,"promotion_cost":5000,"currency":"KRW","order_id":"o1","channel":"web","attributes":{"plan":"pro","tier":"x"}}]}`,
	`{"events":[{"event_id":"e3","unit_id":"u\u0000","revenue":-1},{"event_id":"e4","event_id":"e5"},{"revenue":19.99},{"revenue":1e400},{"revenue":"1"},{"revenue":null}]}`,
	`{"events":[{"promotion_cost":123456789012345678},{"promotion_cost":1234567890123456789},{"revenue":-9223372036854775808},{"revenue":9223372036854775808},{"revenue":-0}]}`,
	`{"events":[{"attributes":{}},{"attributes":null},{"attributes":{"a":"1","a":"2"}},{"attributes":{"a":1}},{"attributes":{"a\u0000":"x"}},{"attributes":{"\u0061":"x","a":"y"}},{"attributes":[]}]}`,
	`{"events":[{"Event_ID":"e6"},{"EVENT_ID":"e7","event_id":"e8"},{"extra":{"x":[1,{"y":"\u0000"}]}},{"extra":1,"extra":2},{"extra":{"k":1,"k":2}},{"eventſid":"x"},{"ſ":1}]}`,
	`{"events":[{"event_id":"a\"b"},{"event_id":"\u00e9"},{"event_id":"é"},{"type":"x\\u0000"},{"type":null},{"type":5},{"timestamp":"not a time"}]}`,
	`{"events":[1,"x",null,[],true,{},  {"event_id" : "sp" , "type":"exposure" } ]}`,
	`{"events":[],"other":{"events":1}}`, `{"events":null}`, `{"events":{}}`, `{"Events":[{}]}`, `{"eventſ":[{}]}`,
	`{"events":[],"events":[]}`, `{"\u0065vents":[{}]}`, `{"a":1,"a":2,"events":[]}`, `{"events":[{}],"EVENTS":null}`,
	`{}`, `[]`, `null`, ``, `  `, `{"events":[`, `{"events":[{}]} x`, `{"events":[{"a":"` + "\xff" + `"}]}`,
	"{\"a\xff\":1,\"a\xfe\":2,\"events\":[]}", `{"events":[` + strings.Repeat(`[`, 9998) + strings.Repeat(`]`, 9998) + `]}`,
	`{"events":[` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `]}`,
}

func TestDecodeEventBatchMatchesReference(t *testing.T) {
	seeds := append([]string{string(benchBatch())}, batchSeeds...)
	for _, s := range seeds {
		for _, limit := range []int{1000, 3} {
			checkBatch(t, []byte(s), limit)
		}
	}
}

// FuzzDecodeEventBatch checks decodeEventBatch against the reference
// (encoding/json v1 and the Token scanners) on arbitrary bodies: the same
// batch problems, the same events rejected, the same events accepted.
func FuzzDecodeEventBatch(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBatch(t, data, 5)
	})
}

// TestCaseSensitiveNames: names match fields exactly; a name that differs
// only in case is an unknown member (ignored in an event, refused in a
// definition), never a second copy of the field.
func TestCaseSensitiveNames(t *testing.T) {
	d, p := decodeEventBatch([]byte(`{"events":[{"EVENT_ID":"e7","event_id":"e8","Unit_ID":"x"}],"EVENTS":null}`), 5)
	if p != nil || len(d.results) != 1 || d.results[0].EventID != "e8" {
		t.Fatalf("%+v %+v", d, p)
	}
	var req KeyRequest
	errs := decodeJSON([]byte(`{"Name":"shop","scope":"sdk"}`), &req, strict)
	if len(errs) != 1 || errs[0].Field != "Name" || errs[0].Code != "unknown_field" {
		t.Fatalf("%+v", errs)
	}
}
