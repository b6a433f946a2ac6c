package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/promolift/promolift/experiments"
)

// EventBatch is the body of POST /api/v1/events. Each event is decoded on
// its own, so that one malformed event is rejected alone.
type EventBatch struct {
	Events []json.RawMessage `json:"events"`
}

// EventDTO is one exposure or conversion. Money (revenue, promotion_cost)
// is an integer count of minor units of currency.
type EventDTO struct {
	EventID       string            `json:"event_id"`
	Type          string            `json:"type"`
	Experiment    string            `json:"experiment,omitempty"`
	Variant       string            `json:"variant,omitempty"`
	UnitID        string            `json:"unit_id"`
	Timestamp     string            `json:"timestamp"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	Name          string            `json:"name,omitempty"`
	Revenue       int64             `json:"revenue,omitempty"`
	PromotionCost *int64            `json:"promotion_cost,omitempty"`
	Currency      string            `json:"currency,omitempty"`
	OrderID       string            `json:"order_id,omitempty"`
	Channel       string            `json:"channel,omitempty"`
	// CustomerID, when the unit is not the customer (a device ID), is the
	// customer's ID: the unit is linked to the customer, so that erasing
	// the customer erases it (docs/security.md, "Erasure").
	CustomerID string `json:"customer_id,omitempty"`
}

// EventResult is the outcome of the event at Index of the batch.
type EventResult struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Code    string `json:"code,omitempty"`
	Field   string `json:"field,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// Errors lists every problem of a rejected event, each with its
	// field (Code, Field and Detail are the first of them).
	Errors []FieldError `json:"errors,omitempty"`
}

// EventsResponse is the reply to POST /api/v1/events, sent after the
// accepted events are durably stored.
type EventsResponse struct {
	Results   []EventResult `json:"results"`
	Accepted  int           `json:"accepted"`
	Duplicate int           `json:"duplicate"`
	Rejected  int           `json:"rejected"`
}

// moneyFields are the fields that must be integers of minor units.
var moneyFields = map[string]bool{"revenue": true, "promotion_cost": true}

// decodeEvent decodes one event, a valid JSON value (an element of a
// batch that decoded); the error names the field.
func decodeEvent(raw json.RawMessage) (experiments.Event, string, *decodeError) {
	return decodeEventWith(raw, decodeEventFast, scanJSON)
}

// decodeEventWith is decodeEvent with its fast path (which reports
// whether it decoded the event) and its scanner for NULs and repeated keys
// given: the tests compare decodeEvent with the general path alone and the
// reference scanner.
func decodeEventWith(raw json.RawMessage, fast func([]byte, *EventDTO) bool, scan func([]byte) (string, string)) (experiments.Event, string, *decodeError) {
	if !utf8.Valid(raw) {
		return experiments.Event{}, "", &decodeError{Code: "invalid_utf8", Detail: "the event is not valid UTF-8"}
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return experiments.Event{}, "", &decodeError{Code: "invalid_type", Detail: "an event must be a JSON object"}
	}
	var d EventDTO
	var errs []FieldError
	if !fast(raw, &d) {
		d, errs = decodeEventSlow(raw)
		if len(errs) > 0 && errs[0].Field == "" {
			return experiments.Event{}, d.EventID, &decodeError{Code: errs[0].Code, Detail: errs[0].Detail}
		}
		if field, code := scan(raw); code != "" {
			errs = append(errs, FieldError{Field: field, Code: code, Detail: scanProblem(field, code).Detail})
		}
	}
	e := experiments.Event{ID: d.EventID, Type: experiments.EventType(d.Type), UnitID: d.UnitID,
		Experiment: d.Experiment, Variant: d.Variant, Name: d.Name, Revenue: d.Revenue,
		PromotionCost: d.PromotionCost, Currency: d.Currency, OrderID: d.OrderID, Channel: d.Channel,
		Attributes: d.Attributes, CustomerID: d.CustomerID}
	if d.Timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, d.Timestamp)
		if err != nil {
			errs = append(errs, FieldError{Field: "timestamp", Code: "invalid_timestamp",
				Detail: "timestamp: must be an RFC 3339 time such as 2026-03-01T12:00:00Z"})
		}
		e.Timestamp = ts
	}
	if len(errs) == 0 {
		return e, d.EventID, nil
	}
	// The rest of the event is checked too, so that every problem is
	// reported at once; a field that did not decode is not also reported
	// as missing.
	bad := map[string]bool{}
	for _, fe := range errs {
		bad[topField(fe.Field)] = true
	}
	for _, pe := range e.Problems(time.Now(), experiments.DefaultClockSkew) {
		if !bad[topField(pe.Field)] {
			errs = append(errs, FieldError{Field: pe.Field, Code: pe.Code, Detail: pe.Error()})
		}
	}
	return e, d.EventID, &decodeError{Field: errs[0].Field, Code: errs[0].Code, Detail: errs[0].Detail, All: errs}
}

// decodeEventSlow decodes the event raw the general way. A value of the
// wrong type does not stop it: the member is left out and the rest decoded
// again, so that every such member is reported (in document order of
// discovery). An error without a field is about the whole event.
func decodeEventSlow(raw []byte) (EventDTO, []FieldError) {
	var errs []FieldError
	for range len(eventFieldNames) + 1 {
		var d EventDTO
		err := unmarshal(raw, &d)
		if err == nil {
			return d, errs
		}
		if moneyFields[err.Field] {
			err.Code = "invalid_money"
			err.Detail = err.Field + ": must be an integer number of minor units of the currency (such as 1999 for 19.99 USD)"
		}
		if err.Field == "body" {
			return d, append(errs, FieldError{Code: err.Code, Detail: err.Detail})
		}
		errs = append(errs, FieldError{Field: err.Field, Code: err.Code, Detail: err.Detail})
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return d, errs
		}
		top := topField(err.Field)
		for k := range members {
			if strings.EqualFold(k, top) {
				delete(members, k)
			}
		}
		next, merr := json.Marshal(members)
		if merr != nil || len(members) == 0 {
			return d, errs
		}
		raw = next
	}
	return EventDTO{}, errs
}

// topField is the top-level member of a field path: "attributes" of
// "attributes.tier", "events" of "events[2]".
func topField(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// decodedBatch is an event batch after decoding: one result per event
// (complete for the rejected ones) and the valid events, with index[j] the
// position in the batch of valid[j].
type decodedBatch struct {
	results []EventResult
	valid   []experiments.Event
	index   []int
}

// decodeEventBatch decodes the body of POST /api/v1/events. A problem
// about the whole batch (not JSON, a repeated top-level key, no events,
// more than maxEvents events) is returned as the error; a bad event is
// rejected in its result without affecting the others.
func decodeEventBatch(data []byte, maxEvents int) (decodedBatch, *Problem) {
	var batch EventBatch
	if !splitEventBatch(data, &batch) {
		batch = EventBatch{}
		if derr := unmarshal(data, &batch); derr != nil {
			return decodedBatch{}, badRequest(derr.Field, derr.Code, derr.Detail)
		}
		if key := duplicateTopKey(data); key != "" {
			return decodedBatch{}, scanProblem(key, "duplicate_key")
		}
	}
	return decodeEvents(batch, maxEvents, decodeEvent)
}

// decodeEvents checks the events of batch (present, at most maxEvents)
// and decodes each with decode: a bad event is rejected in its result.
func decodeEvents(batch EventBatch, maxEvents int,
	decode func(json.RawMessage) (experiments.Event, string, *decodeError)) (decodedBatch, *Problem) {
	if batch.Events == nil {
		return decodedBatch{}, badRequest("events", "required", `events: is required: {"events": [...]}`)
	}
	if n := len(batch.Events); n > maxEvents {
		return decodedBatch{}, &Problem{Status: http.StatusRequestEntityTooLarge, Code: "too_many_events", Field: "events",
			Detail: fmt.Sprintf("a batch holds at most %d events; this one has %d: split it", maxEvents, n)}
	}
	d := decodedBatch{
		results: make([]EventResult, len(batch.Events)),
		valid:   make([]experiments.Event, 0, len(batch.Events)),
		index:   make([]int, 0, len(batch.Events)),
	}
	for i, raw := range batch.Events {
		e, id, derr := decode(raw)
		d.results[i] = EventResult{Index: i, EventID: id}
		if derr != nil {
			d.results[i].Status = string(experiments.EventRejected)
			d.results[i].Code, d.results[i].Field, d.results[i].Detail = derr.Code, derr.Field, derr.Detail
			if derr.Field == "" {
				d.results[i].Field = fmt.Sprintf("events[%d]", i)
			}
			d.results[i].Errors = derr.All
			if derr.All == nil {
				d.results[i].Errors = fieldErrors(d.results[i].Field, derr.Code, derr.Detail)
			}
			continue
		}
		d.valid = append(d.valid, e)
		d.index = append(d.index, i)
	}
	return d, nil
}

// splitEventBatch decodes the batch body data into batch (zero) when data
// is valid JSON of the usual shape: an object whose keys are each there
// once, "events" (an array) and ASCII keys unlike "events" regardless of
// case. It reports whether it did; then batch is what json.Unmarshal
// would decode (the events being slices of data rather than copies) and
// duplicateTopKey would find nothing. Otherwise batch is to be thrown
// away and the body decoded the general way, which also finds the error.
func splitEventBatch(data []byte, batch *EventBatch) bool {
	if !validJSON(data) {
		return false
	}
	s := newJSONScan(data)
	defer s.free()
	var set map[string]struct{}
	i := s.space(0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	if i = s.space(i + 1); i < len(data) && data[i] == '}' {
		return true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end, k, _ := s.str(i)
		if end < 0 || k.escaped || s.seen(0, &set, k) {
			return false
		}
		if i = s.space(end); i >= len(data) || data[i] != ':' {
			return false
		}
		i = s.space(i + 1)
		switch key := data[k.start:k.end]; {
		case string(key) == "events":
			if i = splitEvents(s, i, batch); i < 0 {
				return false
			}
		case !isASCII(key) || strings.EqualFold(string(key), "events"):
			return false
		default:
			if i = s.skip(i); i < 0 {
				return false
			}
		}
		var more bool
		if i, more = s.next(i, '}'); !more {
			return i >= 0
		}
	}
}

// splitEvents sets batch.Events to the values of the array at data[i]
// and returns the index past it; -1 when there is no array there.
func splitEvents(s *jsonScan, i int, batch *EventBatch) int {
	data := s.data
	if i >= len(data) || data[i] != '[' {
		return -1
	}
	batch.Events = make([]json.RawMessage, 0, 64)
	if i = s.space(i + 1); i < len(data) && data[i] == ']' {
		return i + 1
	}
	for {
		end := s.skip(i)
		if end < 0 {
			return -1
		}
		batch.Events = append(batch.Events, data[i:end:end])
		var more bool
		if i, more = s.next(end, ']'); !more {
			return i
		}
	}
}

// isASCII reports whether b is all ASCII.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decodeEventFast decodes the event raw, valid UTF-8 JSON, into d (zero)
// when the event has the shape SDKs send: an object whose keys are the
// EventDTO fields or ASCII keys unlike any of them, each once; strings
// without escapes for the string fields; integers of at most 18 digits for
// the money; an object of such strings for attributes. It reports
// whether it did; then d is what json.Unmarshal would decode and scanJSON
// would find nothing. Otherwise d is to be thrown away and the event
// decoded the general way, which also finds the error to report.
func decodeEventFast(raw []byte, d *EventDTO) bool {
	s := newJSONScan(raw)
	defer s.free()
	var set map[string]struct{} // unknown keys, once there are many
	var seen uint16             // the EventDTO fields seen, one bit each
	i := s.space(0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	if i = s.space(i + 1); i < len(raw) && raw[i] == '}' {
		return s.space(i+1) == len(raw)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return false
		}
		end, k, _ := s.str(i)
		if end < 0 || k.escaped {
			return false
		}
		if i = s.space(end); i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = s.space(i + 1)
		var bit uint16
		var str *string
		switch key := raw[k.start:k.end]; string(key) {
		case "event_id":
			bit, str = 1<<0, &d.EventID
		case "type":
			bit, str = 1<<1, &d.Type
		case "experiment":
			bit, str = 1<<2, &d.Experiment
		case "variant":
			bit, str = 1<<3, &d.Variant
		case "unit_id":
			bit, str = 1<<4, &d.UnitID
		case "timestamp":
			bit, str = 1<<5, &d.Timestamp
		case "name":
			bit, str = 1<<6, &d.Name
		case "currency":
			bit, str = 1<<7, &d.Currency
		case "order_id":
			bit, str = 1<<8, &d.OrderID
		case "channel":
			bit, str = 1<<9, &d.Channel
		case "customer_id":
			bit, str = 1<<13, &d.CustomerID
		case "attributes":
			bit = 1 << 10
			if i = decodeAttributesFast(s, i, d); i < 0 {
				return false
			}
		case "revenue":
			bit = 1 << 11
			if i = decodeIntFast(raw, i, s.scalar(i), &d.Revenue); i < 0 {
				return false
			}
		case "promotion_cost":
			bit = 1 << 12
			d.PromotionCost = new(int64)
			if i = decodeIntFast(raw, i, s.scalar(i), d.PromotionCost); i < 0 {
				return false
			}
		default:
			// Ignored by json.Unmarshal unless it matches a field
			// regardless of case; still scanned for NULs and repeats.
			if !unlikeEventFields(key) || s.seen(0, &set, k) {
				return false
			}
			if i = s.value(i, 1); i < 0 {
				return false
			}
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if str != nil {
			if i >= len(raw) || raw[i] != '"' {
				return false
			}
			end, v, nul := s.str(i)
			if end < 0 || nul || v.escaped {
				return false
			}
			*str, i = string(raw[v.start:v.end]), end
		}
		var more bool
		if i, more = s.next(i, '}'); !more {
			return i >= 0 && s.space(i) == len(raw)
		}
	}
}

// eventFieldNames are the JSON names of the EventDTO fields.
var eventFieldNames = []string{"event_id", "type", "experiment", "variant", "unit_id", "timestamp", "attributes",
	"name", "revenue", "promotion_cost", "currency", "order_id", "channel", "customer_id"}

// unlikeEventFields reports whether key is ASCII and equal to no EventDTO
// field name regardless of case (so json.Unmarshal ignores it).
func unlikeEventFields(key []byte) bool {
	if !isASCII(key) {
		return false
	}
	for _, f := range eventFieldNames {
		if strings.EqualFold(string(key), f) {
			return false
		}
	}
	return true
}

// decodeIntFast stores in *n the integer raw[start:end] and returns end
// when it is a JSON integer of at most 18 digits (which never overflows);
// -1 otherwise (and when end is -1).
func decodeIntFast(raw []byte, start, end int, n *int64) int {
	if end < 0 {
		return -1
	}
	digits, neg := raw[start:end], false
	if len(digits) > 0 && digits[0] == '-' {
		digits, neg = digits[1:], true
	}
	if len(digits) == 0 || len(digits) > 18 {
		return -1
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	*n = v
	return end
}

// decodeAttributesFast decodes the attributes object at data[i] into
// d.Attributes when its keys and values are strings without escapes, each
// key once, and returns the index past it; -1 otherwise.
func decodeAttributesFast(s *jsonScan, i int, d *EventDTO) int {
	raw := s.data
	if i >= len(raw) || raw[i] != '{' {
		return -1
	}
	d.Attributes = map[string]string{}
	if i = s.space(i + 1); i < len(raw) && raw[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return -1
		}
		end, k, nul := s.str(i)
		if end < 0 || nul || k.escaped {
			return -1
		}
		if i = s.space(end); i >= len(raw) || raw[i] != ':' {
			return -1
		}
		if i = s.space(i + 1); i >= len(raw) || raw[i] != '"' {
			return -1
		}
		end, v, nul := s.str(i)
		if end < 0 || nul || v.escaped {
			return -1
		}
		key := string(raw[k.start:k.end])
		if _, dup := d.Attributes[key]; dup {
			return -1
		}
		d.Attributes[key] = string(raw[v.start:v.end])
		var more bool
		if i, more = s.next(end, '}'); !more {
			return i
		}
	}
}

func (a *api) postEvents(c *gin.Context) {
	body, _ := c.Get(ctxEventsBody) // read by readEventsBody (overload.go)
	data, _ := body.([]byte)
	d, p := decodeEventBatch(data, a.cfg.MaxBatchEvents)
	if p != nil {
		abortProblem(c, p)
		return
	}
	results, valid, index := d.results, d.valid, d.index
	ingestStart := time.Now()
	outcomes, err := a.svc.IngestEvents(c.Request.Context(), who(c), valid)
	if err != nil {
		abortProblem(c, err)
		return
	}
	resp := EventsResponse{Results: results}
	for j, o := range outcomes {
		r := &results[index[j]]
		r.Status = string(o.Status)
		if o.Err != nil {
			r.Code, r.Field, r.Detail = o.Err.Code, o.Err.Field, o.Err.Error()
			r.Errors = fieldErrors(r.Field, r.Code, r.Detail)
			if len(o.Errors) > 1 {
				r.Errors = make([]FieldError, len(o.Errors))
				for k, fe := range o.Errors {
					r.Errors[k] = FieldError{Field: fe.Field, Code: fe.Code, Detail: fe.Error()}
				}
			}
		}
	}
	for _, r := range results {
		switch experiments.EventStatus(r.Status) {
		case experiments.EventAccepted:
			resp.Accepted++
		case experiments.EventDuplicate:
			resp.Duplicate++
		default:
			resp.Rejected++
		}
	}
	a.ops.eventsIngested(time.Since(ingestStart), resp.Accepted, resp.Duplicate, resp.Rejected)
	writeJSON(c, http.StatusOK, resp)
}
