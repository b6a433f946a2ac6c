package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
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

// BenchmarkScanJSON measures the NUL check that decoding adds (duplicate
// names and invalid UTF-8 are the decoder's own checks), on the
// 1000-event batch.
func BenchmarkScanJSON(b *testing.B) {
	data := benchBatch()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if errs := nulStrings(data); errs != nil {
			b.Fatal(errs)
		}
	}
}

// benchAssignBody and benchOFREPBody are the bodies of a usual POST
// /api/v1/assign and OFREP evaluation.
const (
	benchAssignBody = `{"unit_id":"user-004217","attributes":{"country":"KR","platform":"ios","app_version":"5.12.0","tier":"gold","age":34,"vip":true},"experiments":["spring-sale"],"log_exposure":true}`
	benchOFREPBody  = `{"context":{"targetingKey":"user-004217","country":"KR","platform":"ios","app_version":"5.12.0","tier":"gold","age":34,"vip":true}}`
)

// benchRequest measures decode on a gin context whose request carries
// body, as the handler runs it (reading the body included).
func benchRequest(b *testing.B, body string, decode func(*api, *gin.Context) error) {
	b.Helper()
	a := &api{cfg: Config{MaxBodyBytes: 1 << 20}}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("POST", "/", nil)
	c.Request.Header.Set("Content-Type", "application/json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c.Request.Body = io.NopCloser(strings.NewReader(body))
		if err := decode(a, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAssign measures reading and decoding the body of POST
// /api/v1/assign.
func BenchmarkDecodeAssign(b *testing.B) {
	benchRequest(b, benchAssignBody, func(a *api, c *gin.Context) error {
		var req AssignRequestDTO
		return a.decodeBody(c, &req)
	})
}

// BenchmarkDecodeOFREP measures reading and decoding the body of an OFREP
// evaluation into its context, as the single evaluation does and as the
// bulk one does (which also needs the context's canonical JSON).
func BenchmarkDecodeOFREP(b *testing.B) {
	for _, route := range []struct {
		name      string
		canonical bool
	}{{"single", false}, {"bulk", true}} {
		b.Run(route.name, func(b *testing.B) {
			benchRequest(b, benchOFREPBody, func(a *api, c *gin.Context) error {
				attrs, fail, _ := a.ofrepContext(c)
				if fail != nil {
					return errors.New(fail.ErrorDetails)
				}
				if route.canonical {
					_, err := json.Marshal(attrs)
					return err
				}
				return nil
			})
		})
	}
}
