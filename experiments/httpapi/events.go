package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
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
}

// EventResult is the outcome of the event at Index of the batch.
type EventResult struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Code    string `json:"code,omitempty"`
	Field   string `json:"field,omitempty"`
	Detail  string `json:"detail,omitempty"`
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

// decodeEvent decodes one event; the error names the field.
func decodeEvent(raw json.RawMessage) (experiments.Event, string, *decodeError) {
	var d EventDTO
	if !utf8.Valid(raw) {
		return experiments.Event{}, "", &decodeError{Code: "invalid_utf8", Detail: "the event is not valid UTF-8"}
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return experiments.Event{}, "", &decodeError{Code: "invalid_type", Detail: "an event must be a JSON object"}
	}
	if err := unmarshal(raw, &d); err != nil {
		if moneyFields[err.Field] {
			err.Code = "invalid_money"
			err.Detail = err.Field + ": must be an integer number of minor units of the currency (such as 1999 for 19.99 USD)"
		}
		return experiments.Event{}, d.EventID, err
	}
	if field, code := scanJSON(raw); code != "" {
		return experiments.Event{}, d.EventID, &decodeError{Field: field, Code: code, Detail: scanProblem(field, code).Detail}
	}
	e := experiments.Event{ID: d.EventID, Type: experiments.EventType(d.Type), UnitID: d.UnitID,
		Experiment: d.Experiment, Variant: d.Variant, Name: d.Name, Revenue: d.Revenue,
		PromotionCost: d.PromotionCost, Currency: d.Currency, OrderID: d.OrderID, Channel: d.Channel,
		Attributes: d.Attributes}
	if d.Timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, d.Timestamp)
		if err != nil {
			return e, d.EventID, &decodeError{Field: "timestamp", Code: "invalid_timestamp",
				Detail: "timestamp: must be an RFC 3339 time such as 2026-03-01T12:00:00Z"}
		}
		e.Timestamp = ts
	}
	return e, d.EventID, nil
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
	if derr := unmarshal(data, &batch); derr != nil {
		return decodedBatch{}, badRequest(derr.Field, derr.Code, derr.Detail)
	}
	if key := duplicateTopKey(data); key != "" {
		return decodedBatch{}, scanProblem(key, "duplicate_key")
	}
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
		e, id, derr := decodeEvent(raw)
		d.results[i] = EventResult{Index: i, EventID: id}
		if derr != nil {
			d.results[i].Status = string(experiments.EventRejected)
			d.results[i].Code, d.results[i].Field, d.results[i].Detail = derr.Code, derr.Field, derr.Detail
			if derr.Field == "" {
				d.results[i].Field = fmt.Sprintf("events[%d]", i)
			}
			continue
		}
		d.valid = append(d.valid, e)
		d.index = append(d.index, i)
	}
	return d, nil
}

func (a *api) postEvents(c *gin.Context) {
	data, err := a.readBody(c, false)
	if err != nil {
		abortProblem(c, err)
		return
	}
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
