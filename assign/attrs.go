package assign

// Attributes are a unit's targeting attributes: decoded JSON values (string,
// float64, bool, nil, []any, map[string]any). Go integer types are accepted
// as numbers too.
type Attributes map[string]any
