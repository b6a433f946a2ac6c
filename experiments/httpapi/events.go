package httpapi

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/promolift/promolift/experiments"
)

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

// decodeEvent decodes one event, an element of a batch (JSON, not yet
// checked), and returns it with its event_id and its problems: every one
// found, each naming its field, or one about the whole event (Field "").
func decodeEvent(raw jsontext.Value) (experiments.Event, string, []FieldError) {
	invalidUTF8 := []FieldError{{Code: "invalid_utf8", Detail: "the event is not valid UTF-8"}}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		if !utf8.Valid(raw) {
			return experiments.Event{}, "", invalidUTF8
		}
		return experiments.Event{}, "", []FieldError{{Code: "invalid_type", Detail: "an event must be a JSON object"}}
	}
	var d EventDTO
	var errs []FieldError
	// The decoder refuses invalid UTF-8 itself: it is looked for only when
	// the event does not decode.
	if json.Unmarshal(raw, &d) != nil || bytes.Contains(raw, nul) {
		if !utf8.Valid(raw) {
			return experiments.Event{}, "", invalidUTF8
		}
		errs = decodeJSON(raw, &d, lenient)
		if len(errs) > 0 && errs[0].Field == "body" {
			return experiments.Event{}, d.EventID, []FieldError{{Code: errs[0].Code, Detail: errs[0].Detail}}
		}
		for i, fe := range errs {
			if fe.Code == "invalid_type" && moneyFields[fe.Field] {
				errs[i] = FieldError{Field: fe.Field, Code: "invalid_money",
					Detail: fe.Field + ": must be an integer number of minor units of the currency (such as 1999 for 19.99 USD)"}
			}
		}
	}
	e, errs := eventOf(&d, errs)
	return e, d.EventID, errs
}

// eventOf is the event d, with its timestamp parsed, and errs (the
// problems of decoding it) with the timestamp's; when there are problems,
// the rest of the event is checked too, so that every problem is reported
// at once (a field that did not decode is not also reported as missing).
// Without problems, the domain's rules are left to the service.
func eventOf(d *EventDTO, errs []FieldError) (experiments.Event, []FieldError) {
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
		return e, nil
	}
	bad := map[string]bool{}
	for _, fe := range errs {
		bad[topField(fe.Field)] = true
	}
	for _, pe := range e.Problems(time.Now(), experiments.DefaultClockSkew) {
		if !bad[topField(pe.Field)] {
			errs = append(errs, FieldError{Field: pe.Field, Code: pe.Code, Detail: pe.Error()})
		}
	}
	return e, errs
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
//
// The usual batch, where every event decodes, is decoded in one pass;
// otherwise each event is decoded on its own, to find its problems.
func decodeEventBatch(data []byte, maxEvents int) (decodedBatch, *Problem) {
	var batch struct {
		Events []EventDTO `json:"events"`
	}
	// The decoder reuses the capacity given: there are fewer events than
	// opening braces.
	batch.Events = make([]EventDTO, 0, min(bytes.Count(data, []byte{'{'}), maxEvents+1))
	// An empty batch may have no events member; an event without event_id
	// is rejected (a null, which is no event, decodes as an empty one):
	// their problems are found apart.
	if json.Unmarshal(data, &batch) != nil || bytes.Contains(data, nul) || len(batch.Events) == 0 ||
		slices.ContainsFunc(batch.Events, func(d EventDTO) bool { return d.EventID == "" }) {
		return decodeEventsApart(data, maxEvents)
	}
	if p := checkEventCount(len(batch.Events), false, maxEvents); p != nil {
		return decodedBatch{}, p
	}
	d := newDecodedBatch(len(batch.Events))
	for i := range batch.Events {
		e, errs := eventOf(&batch.Events[i], nil)
		d.add(i, e, batch.Events[i].EventID, errs)
	}
	return d, nil
}

// decodeEventsApart is decodeEventBatch decoding each event on its own.
func decodeEventsApart(data []byte, maxEvents int) (decodedBatch, *Problem) {
	events, p := splitEventBatch(data)
	if p != nil {
		return decodedBatch{}, p
	}
	if p := checkEventCount(len(events), events == nil, maxEvents); p != nil {
		return decodedBatch{}, p
	}
	d := newDecodedBatch(len(events))
	for i, raw := range events {
		e, id, errs := decodeEvent(raw)
		d.add(i, e, id, errs)
	}
	return d, nil
}

// checkEventCount is the problem of a batch of n events (none: absent).
func checkEventCount(n int, absent bool, maxEvents int) *Problem {
	if absent {
		return badRequest("events", "required", `events: is required: {"events": [...]}`)
	}
	if n > maxEvents {
		return &Problem{Status: http.StatusRequestEntityTooLarge, Code: "too_many_events", Field: "events",
			Detail: fmt.Sprintf("a batch holds at most %d events; this one has %d: split it", maxEvents, n)}
	}
	return nil
}

// newDecodedBatch is an empty decodedBatch for n events.
func newDecodedBatch(n int) decodedBatch {
	return decodedBatch{results: make([]EventResult, n), valid: make([]experiments.Event, 0, n), index: make([]int, 0, n)}
}

// add records the event at index i of the batch, e with id, rejected when
// it has problems (errs; one with no field is about the whole event).
func (d *decodedBatch) add(i int, e experiments.Event, id string, errs []FieldError) {
	d.results[i] = EventResult{Index: i, EventID: id}
	if errs == nil {
		d.valid = append(d.valid, e)
		d.index = append(d.index, i)
		return
	}
	r := &d.results[i]
	r.Status = string(experiments.EventRejected)
	r.Code, r.Field, r.Detail, r.Errors = errs[0].Code, errs[0].Field, errs[0].Detail, errs
	if r.Field == "" {
		r.Field = fmt.Sprintf("events[%d]", i)
		r.Errors = fieldErrors(r.Field, r.Code, r.Detail)
	}
}

// splitEventBatch returns the events of the batch body data, each the
// bytes of data that hold it, to be decoded one by one (so that one bad
// event is rejected alone): nil when there is no events member or it is
// null (or the body is null). The problem is about the whole batch: not
// JSON, not an object, a name repeated at its top level, events not an
// array.
func splitEventBatch(data []byte) ([]jsontext.Value, *Problem) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), lax)
	var events []jsontext.Value
	var names []string
	var p *Problem // the first problem, reported once data is known to be JSON
	object := dec.PeekKind() == '{'
	if k := dec.PeekKind(); !object && k != 'n' {
		p = badRequest("body", "invalid_type", "must be a JSON object, not "+kindName(k))
	}
	if !object {
		if err := dec.SkipValue(); err != nil {
			return nil, syntaxProblem(err)
		}
	} else if _, err := dec.ReadToken(); err != nil {
		return nil, syntaxProblem(err)
	}
	for object && p == nil && dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, syntaxProblem(err)
		}
		name := tok.String()
		switch {
		case slices.Contains(names, name):
			field := cmp.Or(name, "body") // as fieldOf names it
			p = badRequest(field, "duplicate_key", field+": appears more than once in its object")
		case name == "events" && dec.PeekKind() == '[':
			if events, err = splitArray(dec, data); err != nil {
				return nil, syntaxProblem(err)
			}
		case name == "events" && dec.PeekKind() != 'n':
			p = badRequest("events", "invalid_type", "events: must be an array, not "+kindName(dec.PeekKind()))
		}
		names = append(names, name)
		if name != "events" || dec.PeekKind() == 'n' {
			if err := dec.SkipValue(); err != nil {
				return nil, syntaxProblem(err)
			}
		}
	}
	// The rest must be JSON too, and nothing follow it.
	for dec.StackDepth() > 0 {
		if _, err := dec.ReadToken(); err != nil {
			return nil, syntaxProblem(err)
		}
	}
	offset := dec.InputOffset()
	switch _, err := dec.ReadToken(); {
	case err == nil:
		return nil, badRequest("body", "invalid_json",
			fmt.Sprintf("the body is not valid JSON: another value follows the first (at byte %d)", offset))
	case err != io.EOF:
		return nil, syntaxProblem(err)
	}
	return events, p
}

// splitArray reads the array that dec is at and returns its elements, as
// the bytes of data that hold them.
func splitArray(dec *jsontext.Decoder, data []byte) ([]jsontext.Value, error) {
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	elems := make([]jsontext.Value, 0, 64)
	for dec.PeekKind() != ']' {
		start := dec.InputOffset()
		if _, err := dec.ReadValue(); err != nil {
			return nil, err
		}
		end := dec.InputOffset()
		elems = append(elems, bytes.TrimLeft(data[start:end:end], ", \t\r\n"))
	}
	_, err := dec.ReadToken()
	return elems, err
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
