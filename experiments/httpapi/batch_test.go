package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/promolift/promolift/experiments"
)

// decodeEventBatchRef is decodeEventBatch as it was before its fast
// paths, over the Token based scanners: the reference it is tested
// against.
func decodeEventBatchRef(data []byte, maxEvents int) (decodedBatch, *Problem) {
	var batch EventBatch
	if derr := unmarshal(data, &batch); derr != nil {
		return decodedBatch{}, badRequest(derr.Field, derr.Code, derr.Detail)
	}
	if key := duplicateTopKeyTokens(data); key != "" {
		return decodedBatch{}, scanProblem(key, "duplicate_key")
	}
	return decodeEvents(batch, maxEvents, decodeEventRef)
}

// decodeEventRef is decodeEvent as it was before its fast path: the
// general path alone, with the reference (encoding/json token) scanner.
func decodeEventRef(raw json.RawMessage) (experiments.Event, string, *decodeError) {
	return decodeEventWith(raw, func([]byte, *EventDTO) bool { return false }, scanJSONTokens)
}

// batchSeeds are batch bodies that take the fast paths and that leave
// them at each of their conditions.
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
			got, gp := decodeEventBatch([]byte(s), limit)
			want, wp := decodeEventBatchRef([]byte(s), limit)
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gp, wp) {
				t.Errorf("%.200s (limit %d):\n got %+v %+v\nwant %+v %+v", s, limit, got, gp, want, wp)
			}
		}
	}
}

// FuzzDecodeEventBatch checks decodeEventBatch, fast paths and all,
// against the reference decoder on arbitrary bodies.
func FuzzDecodeEventBatch(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gp := decodeEventBatch(data, 5)
		want, wp := decodeEventBatchRef(data, 5)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gp, wp) {
			t.Fatalf("%q:\n got %+v %+v\nwant %+v %+v", data, got, gp, want, wp)
		}
	})
}

// TestFastPathsTaken checks that the usual batch takes the fast paths
// (which the reference tests cannot tell from the general ones).
func TestFastPathsTaken(t *testing.T) {
	var batch EventBatch
	if !splitEventBatch(benchBatch(), &batch) || len(batch.Events) != 1000 {
		t.Fatalf("the benchmark batch does not split: %d events", len(batch.Events))
	}
	for _, raw := range append(batch.Events,
		json.RawMessage(`{ "event_id" : "e" , "extra" : {"a":[1,"x",{"b":null}]}, "revenue" : -0 , "attributes" : { } }`),
		json.RawMessage(`{}`)) {
		var d EventDTO
		if !decodeEventFast(raw, &d) {
			t.Fatalf("%s does not decode fast", raw)
		}
	}
	for _, raw := range []string{`{"event_id":"e","event_id":"f"}`, `{"Type":"x"}`, `{"type":"\u0041"}`, `{"revenue":1.0}`,
		`{"attributes":{"a":"x","a":"y"}}`, `{"x":1,"x":2}`, `{"x":{"y":"\u0000"}}`, `{"unit_id":null}`} {
		var d EventDTO
		if decodeEventFast([]byte(raw), &d) {
			t.Errorf("%s decodes fast", raw)
		}
	}
}
