// Package ofprovider is an OpenFeature provider (github.com/open-feature/go-sdk)
// over sdk.Client: flags and experiments are evaluated locally from the
// promolift config snapshot.
//
// Flags resolve with the reasons STATIC (a flag without rules), DEFAULT (no
// rule matched), TARGETING_MATCH (a targeting rule matched), SPLIT (an
// experiment assignment or a percentage rollout), DISABLED (the caller's
// default) and ERROR with FLAG_NOT_FOUND, TYPE_MISMATCH,
// TARGETING_KEY_MISSING, PROVIDER_NOT_READY or PARSE_ERROR. A running
// experiment is also a string flag of its key whose value is the assigned
// variant's value (its key unless the variant has a flag value). The
// evaluation context's targeting key is the attribute id.
//
// Init waits for the first config snapshot. The provider emits
// PROVIDER_CONFIGURATION_CHANGED on every new snapshot, PROVIDER_STALE when
// the server has been unreachable for sdk.Config.StaleAfter, PROVIDER_READY
// when it is back, and PROVIDER_ERROR when the key is refused. Track turns
// an OpenFeature tracking event into a promolift conversion.
//
// Usage:
//
//	p, err := ofprovider.New(sdk.Config{ServerURL: url, Key: key, Stream: true}, ofprovider.Options{})
//	if err != nil {
//		return err
//	}
//	if err := openfeature.SetProviderAndWait(p); err != nil {
//		return err
//	}
//	defer openfeature.Shutdown() // flushes the events
//	of := openfeature.NewDefaultClient()
//	evalCtx := openfeature.NewEvaluationContext(customerID, map[string]any{"tier": "gold"})
//	if of.Boolean(ctx, "spring-sale-gate", false, evalCtx) {
//		coupon := of.String(ctx, "spring-sale", "control", evalCtx) // the experiment's variant
//		_ = coupon
//	}
//	of.Track(ctx, "purchase", evalCtx, openfeature.NewTrackingEventDetails(125000).Add("currency", "KRW"))
package ofprovider
