package assign

import (
	"encoding/json"
	"fmt"
)

// FNV-1a 32-bit parameters.
const (
	fnvOffset32 uint32 = 0x811C9DC5
	fnvPrime32  uint32 = 0x01000193
)

// fnvAdd feeds the bytes of s into the FNV-1a state h.
func fnvAdd(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime32
	}
	return h
}

// fnvAddBytes feeds b into the FNV-1a state h.
func fnvAddBytes(h uint32, b []byte) uint32 {
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime32
	}
	return h
}

// FNV32a returns the standard 32-bit FNV-1a hash of the UTF-8 bytes of s.
func FNV32a(s string) uint32 { return fnvAdd(fnvOffset32, s) }

// Hash returns GrowthBook's deterministic number in [0, 1) for seed and value.
//
// Version 1: (fnv32a(value+seed) mod 1000) / 1000.
// Version 2: (fnv32a(decimal(fnv32a(seed+value))) mod 10000) / 10000.
// Version 0 is treated as 1, as the GrowthBook Go SDK does. Any other version
// returns false. Hash never allocates.
func Hash(seed, value string, version int) (float64, bool) {
	switch version {
	case 0, 1:
		return hashV1(seed, value), true
	case 2:
		return hashV2(seed, value), true
	}
	return 0, false
}

func hashV1(seed, value string) float64 {
	h := fnvAdd(fnvAdd(fnvOffset32, value), seed)
	return float64(h%1000) / 1000
}

func hashV2(seed, value string) float64 {
	return hashV2Second(fnvAdd(fnvAdd(fnvOffset32, seed), value))
}

// hashV2Second finishes a version-2 hash from the first FNV-1a state h: it
// hashes the unsigned decimal digits of h (no padding) and reduces mod 10000.
func hashV2Second(h uint32) float64 {
	var buf [10]byte // max uint32 is 10 decimal digits
	i := len(buf)
	for h >= 10 {
		q := h / 10
		i--
		buf[i] = byte('0' + h - q*10)
		h = q
	}
	i--
	buf[i] = byte('0' + h)
	h2 := fnvAddBytes(fnvOffset32, buf[i:])
	return float64(h2%10000) / 10000
}

// Range is a half-open interval [Start, End) of hash values.
// In JSON it is the two-element array [start, end].
type Range struct {
	Start, End float64
}

// Contains reports whether Start <= n < End.
func (r Range) Contains(n float64) bool { return n >= r.Start && n < r.End }

// MarshalJSON encodes r as [start, end].
func (r Range) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]float64{r.Start, r.End})
}

// UnmarshalJSON decodes [start, end].
func (r *Range) UnmarshalJSON(b []byte) error {
	var a []float64
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("must be [start, end]: %w", err)
	}
	if len(a) != 2 {
		return fmt.Errorf("must be [start, end], got %d numbers", len(a))
	}
	r.Start, r.End = a[0], a[1]
	return nil
}

// EqualWeights returns n weights of 1/n each, or nil when n <= 0.
func EqualWeights(n int) []float64 {
	if n <= 0 {
		return nil
	}
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / float64(n)
	}
	return w
}

// BucketRanges returns the hash ranges of n variations, as GrowthBook's
// getBucketRanges: coverage is clamped into [0, 1]; weights fall back to
// EqualWeights(n) when nil, of the wrong length, or summing outside
// [0.99, 1.01]; variation i's range starts at the sum of the weights before it
// and is coverage*w[i] wide.
func BucketRanges(n int, coverage float64, weights []float64) []Range {
	return appendBucketRanges(make([]Range, 0, max(n, 0)), n, coverage, weights)
}

func appendBucketRanges(dst []Range, n int, coverage float64, weights []float64) []Range {
	if n <= 0 {
		return dst
	}
	if coverage < 0 || coverage != coverage {
		coverage = 0
	} else if coverage > 1 {
		coverage = 1
	}
	equal := len(weights) != n
	if !equal {
		total := 0.0
		for _, w := range weights {
			total += w
		}
		equal = !(total >= 0.99 && total <= 1.01)
	}
	cum := 0.0
	for i := 0; i < n; i++ {
		w := 1 / float64(n)
		if !equal {
			w = weights[i]
		}
		start := cum
		cum += w
		dst = append(dst, Range{start, start + coverage*w})
	}
	return dst
}

// ChooseVariation returns the index of the first range containing n, or -1.
func ChooseVariation(n float64, ranges []Range) int {
	for i, r := range ranges {
		if r.Contains(n) {
			return i
		}
	}
	return -1
}

// Namespace is GrowthBook's namespace tuple [id, start, end]: a unit is in the
// namespace when Hash("__"+id, unit, 1) is in [start, end).
type Namespace struct {
	ID         string
	Start, End float64
}

// MarshalJSON encodes ns as [id, start, end].
func (ns Namespace) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{ns.ID, ns.Start, ns.End})
}

// UnmarshalJSON decodes [id, start, end].
func (ns *Namespace) UnmarshalJSON(b []byte) error {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || len(a) != 3 {
		return fmt.Errorf("must be [id, start, end]")
	}
	if err := json.Unmarshal(a[0], &ns.ID); err != nil {
		return fmt.Errorf("id must be a string")
	}
	if err := json.Unmarshal(a[1], &ns.Start); err != nil {
		return fmt.Errorf("start must be a number")
	}
	if err := json.Unmarshal(a[2], &ns.End); err != nil {
		return fmt.Errorf("end must be a number")
	}
	return nil
}

// InNamespace reports whether the unit with hash value id falls into ns.
func InNamespace(id string, ns Namespace) bool {
	return inNamespaceHash(hashNamespace(ns.ID, id), ns)
}

func inNamespaceHash(n float64, ns Namespace) bool { return n >= ns.Start && n < ns.End }

// hashNamespace computes Hash("__"+id, unit, 1) without concatenating:
// version 1 hashes value first, then the seed "__"+id.
func hashNamespace(id, unit string) float64 {
	h := fnvAdd(fnvAdd(fnvAdd(fnvOffset32, unit), "__"), id)
	return float64(h%1000) / 1000
}
