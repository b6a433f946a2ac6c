package httpapi

import (
	"fmt"
	"strings"
	"testing"
)

// benchBatch is the body of a 1000-event batch: 250 exposures and 750
// conversions, about 200 KB of JSON as an SDK sends it.
func benchBatch() []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		if i%4 == 0 {
			fmt.Fprintf(&b, `{"event_id":"exp-%08d-7f3a9c2e","type":"exposure","experiment":"spring-sale","variant":"ten_off",`+
				`"unit_id":"user-%06d","timestamp":"2026-03-01T12:%02d:%02d.123456Z","attributes":{"country":"KR","platform":"ios","app_version":"5.12.0"},"channel":"push"}`,
				i, i/4, i%60, i%59)
			continue
		}
		fmt.Fprintf(&b, `{"event_id":"conv-%08d-7f3a9c2e","type":"conversion","name":"purchase","unit_id":"user-%06d",`+
			`"timestamp":"2026-03-01T12:%02d:%02d.123456Z","revenue":%d,"promotion_cost":500,"currency":"USD","order_id":"order-%08d",`+
			`"attributes":{"country":"KR","platform":"android"}}`,
			i, i/4, i%60, i%59, 1999+i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkDecodeEventBatch measures the Go side of POST /api/v1/events
// before the store call: decoding and validating a 1000-event batch.
func BenchmarkDecodeEventBatch(b *testing.B) {
	data := benchBatch()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d, p := decodeEventBatch(data, 1000)
		if p != nil || len(d.valid) != 1000 {
			b.Fatalf("%v, %d valid", p, len(d.valid))
		}
	}
}

// BenchmarkEventsResponse measures the Go side of POST /api/v1/events
// after the store call: encoding the reply to a 1000-event batch.
func BenchmarkEventsResponse(b *testing.B) {
	d, p := decodeEventBatch(benchBatch(), 1000)
	if p != nil {
		b.Fatal(p)
	}
	resp := EventsResponse{Results: d.results, Accepted: len(d.results)}
	for i := range resp.Results {
		resp.Results[i].Status = "accepted"
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanJSON measures the NUL and repeated-key scan that the
// general decoding path (decodeBody, and events off the fast path) runs
// after json.Unmarshal, on the 1000-event batch.
func BenchmarkScanJSON(b *testing.B) {
	data := benchBatch()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if field, code := scanJSON(data); code != "" {
			b.Fatalf("%s at %s", code, field)
		}
	}
}
