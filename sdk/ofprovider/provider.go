package ofprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/promolift/promolift/assign"
	"github.com/promolift/promolift/sdk"
)

// Name is the provider's name in openfeature.Metadata.
const Name = "promolift"

// DefaultInitTimeout bounds Init when the context passed has no deadline.
const DefaultInitTimeout = 30 * time.Second

var (
	_ openfeature.FeatureProvider          = (*Provider)(nil)
	_ openfeature.StateHandler             = (*Provider)(nil)
	_ openfeature.ContextAwareStateHandler = (*Provider)(nil)
	_ openfeature.EventHandler             = (*Provider)(nil)
	_ openfeature.Tracker                  = (*Provider)(nil)
)

// Options tune a Provider.
type Options struct {
	// InitTimeout bounds the wait for the first snapshot in Init (default 30s).
	InitTimeout time.Duration
}

// Provider is an OpenFeature provider that evaluates promolift flags and
// experiments locally through an sdk.Client.
type Provider struct {
	client      *sdk.Client
	owned       bool
	initTimeout time.Duration
	events      chan openfeature.Event

	mu       sync.Mutex
	unsub    func()
	initDone bool
	degraded bool // PROVIDER_STALE or PROVIDER_ERROR was emitted
	fatal    chan error
}

// New creates an sdk.Client from cfg and a Provider over it; Shutdown
// closes the client (flushing its events).
func New(cfg sdk.Config, opts Options) (*Provider, error) {
	c, err := sdk.New(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	p := NewWithClient(c, opts)
	p.owned = true
	return p, nil
}

// NewWithClient returns a Provider over an existing client. Shutdown does
// not close it.
func NewWithClient(c *sdk.Client, opts Options) *Provider {
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultInitTimeout
	}
	p := &Provider{client: c, initTimeout: opts.InitTimeout,
		events: make(chan openfeature.Event, 64), fatal: make(chan error, 1)}
	p.unsub = c.Subscribe(p.onNotify)
	return p
}

// Client returns the underlying sdk.Client.
func (p *Provider) Client() *sdk.Client { return p.client }

// Metadata names the provider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: Name} }

// Hooks returns no hooks.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// EventChannel carries PROVIDER_CONFIGURATION_CHANGED on every new
// snapshot, PROVIDER_STALE when the server has been unreachable for
// Config.StaleAfter, PROVIDER_READY when it answers again, and
// PROVIDER_ERROR when the server refuses the key.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

func (p *Provider) emit(t openfeature.EventType, d openfeature.ProviderEventDetails) {
	select {
	case p.events <- openfeature.Event{ProviderName: Name, EventType: t, ProviderEventDetails: d}:
	default: // nobody is draining: drop rather than block the client
	}
}

func (p *Provider) onNotify(n sdk.Notification) {
	p.mu.Lock()
	defer p.mu.Unlock()
	meta := map[string]any{"version": n.Version}
	switch n.Kind {
	case sdk.NotifyChanged:
		p.emit(openfeature.ProviderConfigChange, openfeature.ProviderEventDetails{Message: "new config " + n.Version, EventMetadata: meta})
	case sdk.NotifyStale:
		p.degraded = true
		p.emit(openfeature.ProviderStale, openfeature.ProviderEventDetails{Message: "promolift server unreachable; serving config " + n.Version, EventMetadata: meta})
	case sdk.NotifyRecovered:
		if p.initDone && p.degraded {
			p.degraded = false
			p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "promolift server reachable again", EventMetadata: meta})
		}
	case sdk.NotifyError:
		if !n.Fatal {
			return
		}
		if !p.initDone {
			select {
			case p.fatal <- n.Err:
			default:
			}
			return
		}
		p.degraded = true
		p.emit(openfeature.ProviderError, openfeature.ProviderEventDetails{Message: n.Err.Error(), ErrorCode: openfeature.GeneralCode, EventMetadata: meta})
	}
}

// Init waits for the first config snapshot.
func (p *Provider) Init(evalCtx openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), evalCtx)
}

// InitWithContext waits for the first config snapshot, at most until ctx
// is done or Options.InitTimeout has passed. A refused key or an invalid
// config is a fatal error.
func (p *Provider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	ctx, cancel := context.WithTimeout(ctx, p.initTimeout)
	defer cancel()
	select {
	case <-p.client.Ready():
	case err := <-p.fatal:
		return &openfeature.ProviderInitError{ErrorCode: openfeature.ProviderFatalCode, Message: err.Error()}
	case <-ctx.Done():
		return p.client.WaitReady(ctx)
	}
	p.mu.Lock()
	p.initDone = true
	p.mu.Unlock()
	return nil
}

// Shutdown stops the provider (and closes the client if New created it).
func (p *Provider) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = p.ShutdownWithContext(ctx)
}

// ShutdownWithContext is Shutdown bounded by ctx.
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	p.mu.Lock()
	p.initDone = false
	p.mu.Unlock()
	if p.owned {
		return p.client.Close(ctx)
	}
	return nil
}

// attrs turns the flattened context into assign attributes: the targeting
// key becomes the attribute id. The OpenFeature client builds a fresh
// flattened context for every evaluation, so the attribute is added in
// place rather than by copying the map.
func attrs(flat openfeature.FlattenedContext) assign.Attributes {
	if tk, ok := flat[openfeature.TargetingKey].(string); ok && tk != "" {
		if id, ok := flat["id"].(string); !ok || id != tk {
			flat["id"] = tk
		}
	}
	return assign.Attributes(flat)
}

func detail(ev *sdk.Evaluation) openfeature.ProviderResolutionDetail {
	d := openfeature.ProviderResolutionDetail{Reason: openfeature.Reason(ev.Reason), Variant: ev.Variant}
	if ev.Experiment != "" {
		m := make(openfeature.FlagMetadata, len(ev.Metadata)+2)
		for k, v := range ev.Metadata {
			m[k] = v
		}
		m["experiment"] = ev.Experiment
		m["inExperiment"] = ev.InExperiment
		d.FlagMetadata = m
	} else if ev.Metadata != nil {
		d.FlagMetadata = openfeature.FlagMetadata(ev.Metadata)
	}
	if ev.Reason == sdk.ReasonError {
		d.ResolutionError = resolutionError(ev.ErrorCode, ev.ErrorMessage)
	}
	return d
}

func resolutionError(code sdk.ErrorCode, msg string) openfeature.ResolutionError {
	switch code {
	case sdk.ErrorProviderNotReady:
		return openfeature.NewProviderNotReadyResolutionError(msg)
	case sdk.ErrorFlagNotFound:
		return openfeature.NewFlagNotFoundResolutionError(msg)
	case sdk.ErrorTypeMismatch:
		return openfeature.NewTypeMismatchResolutionError(msg)
	case sdk.ErrorTargetingKeyMissing:
		return openfeature.NewTargetingKeyMissingResolutionError(msg)
	case sdk.ErrorParse:
		return openfeature.NewParseErrorResolutionError(msg)
	}
	return openfeature.NewGeneralResolutionError(msg)
}

func mismatch(d *openfeature.ProviderResolutionDetail, key, want string) {
	d.Reason = openfeature.ErrorReason
	d.Variant = ""
	d.ResolutionError = openfeature.NewTypeMismatchResolutionError(fmt.Sprintf("flag %q is not a %s", key, want))
}

// usable reports whether the evaluation carries a value to decode.
func usable(ev *sdk.Evaluation) bool {
	return ev.Reason != sdk.ReasonError && ev.Reason != sdk.ReasonDisabled && len(ev.Value) > 0
}

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	ev := p.client.Evaluate(flag, attrs(flat))
	r := openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: detail(&ev)}
	if !usable(&ev) {
		return r
	}
	switch string(ev.Value) {
	case "true":
		r.Value = true
	case "false":
		r.Value = false
	default:
		mismatch(&r.ProviderResolutionDetail, flag, "boolean")
	}
	return r
}

// StringEvaluation evaluates a string flag (or an experiment: its variant's value).
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, flat openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	ev := p.client.Evaluate(flag, attrs(flat))
	r := openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: detail(&ev)}
	if !usable(&ev) {
		return r
	}
	if ev.Value[0] != '"' {
		mismatch(&r.ProviderResolutionDetail, flag, "string")
		return r
	}
	var s string
	if err := json.Unmarshal(ev.Value, &s); err != nil {
		r.Reason = openfeature.ErrorReason
		r.ResolutionError = openfeature.NewParseErrorResolutionError(err.Error())
		return r
	}
	r.Value = s
	return r
}

func isNumber(v json.RawMessage) bool {
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

// FloatEvaluation evaluates a numeric flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, flat openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	ev := p.client.Evaluate(flag, attrs(flat))
	r := openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: detail(&ev)}
	if !usable(&ev) {
		return r
	}
	if !isNumber(ev.Value) {
		mismatch(&r.ProviderResolutionDetail, flag, "number")
		return r
	}
	f, err := strconv.ParseFloat(string(ev.Value), 64)
	if err != nil {
		r.Reason = openfeature.ErrorReason
		r.ResolutionError = openfeature.NewParseErrorResolutionError(err.Error())
		return r
	}
	r.Value = f
	return r
}

// IntEvaluation evaluates an integer flag; a number with a fraction is a type mismatch.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, flat openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	ev := p.client.Evaluate(flag, attrs(flat))
	r := openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: detail(&ev)}
	if !usable(&ev) {
		return r
	}
	if !isNumber(ev.Value) {
		mismatch(&r.ProviderResolutionDetail, flag, "number")
		return r
	}
	if i, err := strconv.ParseInt(string(ev.Value), 10, 64); err == nil {
		r.Value = i
		return r
	}
	f, err := strconv.ParseFloat(string(ev.Value), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63 {
		mismatch(&r.ProviderResolutionDetail, flag, "integer")
		return r
	}
	r.Value = int64(f)
	return r
}

// ObjectEvaluation evaluates a JSON object or array flag.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, flat openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	ev := p.client.Evaluate(flag, attrs(flat))
	r := openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: detail(&ev)}
	if !usable(&ev) {
		return r
	}
	if ev.Value[0] != '{' && ev.Value[0] != '[' {
		mismatch(&r.ProviderResolutionDetail, flag, "JSON object")
		return r
	}
	var v any
	if err := json.Unmarshal(ev.Value, &v); err != nil {
		r.Reason = openfeature.ErrorReason
		r.ResolutionError = openfeature.NewParseErrorResolutionError(err.Error())
		return r
	}
	r.Value = v
	return r
}

// Track records a conversion named trackingEventName of the evaluation
// context's targeting key. details.Value() is the revenue in minor units;
// the attributes "currency", "order_id", "channel", "promotion_cost" and
// "customer_id" fill those fields, other string attributes go into the
// event's attributes. When the targeting key is not the customer (a device
// ID) and the context's attribute "id" names the customer, the conversion
// names that customer (sdk.WithCustomerID), as the exposures logged for the
// same context do, so that erasing the customer erases the unit too; a
// "customer_id" attribute of details names it explicitly. Without a
// targeting key the event is dropped.
func (p *Provider) Track(_ context.Context, name string, evalCtx openfeature.EvaluationContext, details openfeature.TrackingEventDetails) {
	_ = p.track(name, evalCtx, details)
}

func (p *Provider) track(name string, evalCtx openfeature.EvaluationContext, details openfeature.TrackingEventDetails) error {
	unit := evalCtx.TargetingKey()
	if unit == "" {
		if s, ok := evalCtx.Attribute("id").(string); ok {
			unit = s
		}
	}
	if unit == "" {
		return errors.New("ofprovider: Track: the evaluation context has no targeting key")
	}
	v := details.Value()
	if v < 0 || math.IsNaN(v) || v > 1<<53 {
		return fmt.Errorf("ofprovider: Track: value %v is not a revenue in minor units", v)
	}
	var opts []sdk.TrackOption
	customer, _ := evalCtx.Attribute("id").(string)
	currency := ""
	extra := map[string]string{}
	for k, a := range details.Attributes() {
		switch k {
		case "currency":
			currency, _ = a.(string)
		case "order_id", "orderId":
			if s, ok := a.(string); ok {
				opts = append(opts, sdk.WithOrderID(s))
			}
		case "channel":
			if s, ok := a.(string); ok {
				opts = append(opts, sdk.WithChannel(s))
			}
		case "customer_id", "customerId":
			if s, ok := a.(string); ok {
				customer = s
			}
		case "promotion_cost", "promotionCost":
			if f, ok := toFloat(a); ok && f >= 0 {
				opts = append(opts, sdk.WithPromotionCost(int64(math.Round(f))))
			}
		default:
			if s, ok := a.(string); ok {
				extra[k] = s
			}
		}
	}
	if len(extra) > 0 {
		opts = append(opts, sdk.WithAttributes(extra))
	}
	if customer != "" && customer != unit {
		opts = append(opts, sdk.WithCustomerID(customer))
	}
	return p.client.Track(unit, name, int64(math.Round(v)), currency, opts...)
}

func toFloat(a any) (float64, bool) {
	switch x := a.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	}
	return 0, false
}
