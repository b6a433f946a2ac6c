package httpapi

import "github.com/gin-gonic/gin"

// Definitions are strict, events and evaluations lenient.
//
// A definition (an experiment, a flag, an API key, a cap group, a consent,
// a re-randomization) is written once by a person or a script, so a field
// it does not know is a typo ("variantz") that would otherwise be ignored
// and answered with a misleading error: decodeDefinition rejects every
// unknown field, naming each. Events, assignments and OFREP evaluations
// come from SDKs that may be newer than the server, so unknown fields in
// them are ignored (forward compatibility); docs/api.md states the rule.

// decodeDefinition is decodeBody for a definition: it also rejects, as
// 400 unknown_field, every member of the body that v has no field for
// (each with its path), together with the other problems. Values decoded
// as raw JSON (conditions, flag values) are not looked into.
func (a *api) decodeDefinition(c *gin.Context, v any) error {
	return a.decodeWith(c, v, strict)
}
