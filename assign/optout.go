package assign

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
)

// OptOuts lists, pseudonymized, the units that withdrew their promotion
// consent (promolift), so that an evaluator without access to consent
// (an SDK evaluating locally, Eval.CheckConsent) can honour it for the
// experiments marked Consent. A unit is the value of Attribute; it is
// listed as OptOutHash(Salt, unit).
type OptOuts struct {
	// Attribute is the unit attribute whose consent applies (such as "id").
	Attribute string `json:"attribute"`
	// Salt is hashed with every unit.
	Salt string `json:"salt"`
	// Hashes are the OptOutHash of every opted-out unit.
	Hashes []string `json:"hashes,omitempty"`
	// Complete false says that the server had too many opted-out units to
	// list: no unit's consent is known.
	Complete bool `json:"complete"`

	set []uint64 // sorted Hashes
}

// NewOptOuts lists units (complete false: there were more than these).
func NewOptOuts(attribute, salt string, units []string, complete bool) *OptOuts {
	o := &OptOuts{Attribute: attribute, Salt: salt, Complete: complete}
	if !complete {
		units = nil
	}
	o.set = make([]uint64, 0, len(units))
	for _, u := range units {
		o.set = append(o.set, optOutKey(salt, u))
	}
	slices.Sort(o.set)
	o.set = slices.Compact(o.set)
	o.Hashes = make([]string, len(o.set))
	for i, k := range o.set {
		o.Hashes[i] = keyHex(k)
	}
	return o
}

func keyHex(k uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k)
	return hex.EncodeToString(b[:])
}

// OptOutHash is how OptOuts lists unit: the first 8 bytes of
// SHA-256(salt, 0x00, unit) in hex.
func OptOutHash(salt, unit string) string { return keyHex(optOutKey(salt, unit)) }

func optOutKey(salt, unit string) uint64 {
	var buf [256]byte
	var sum [32]byte
	if n := len(salt) + 1 + len(unit); n <= len(buf) {
		copy(buf[copy(buf[:], salt)+1:], unit)
		sum = sha256.Sum256(buf[:n])
	} else {
		sum = sha256.Sum256([]byte(salt + "\x00" + unit))
	}
	return binary.BigEndian.Uint64(sum[:8])
}

func (o *OptOuts) compile() error {
	o.set = make([]uint64, 0, len(o.Hashes))
	for i, h := range o.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 8 {
			return fe("optOuts.hashes["+strconv.Itoa(i)+"]", "must be 16 hex digits")
		}
		o.set = append(o.set, binary.BigEndian.Uint64(b))
	}
	slices.Sort(o.set)
	return nil
}

// consent applies the opt-outs to a Consent experiment: ok false with the
// reason when the unit of attrs opted out or its consent is unknown. A
// unit without the attribute has no consent to withdraw.
func (s *Spec) consent(attrs Attributes) (Reason, bool) {
	o := s.OptOuts
	if o == nil || !o.Complete {
		return ReasonConsentUnknown, false
	}
	v, _ := attrs[o.Attribute].(string) // as the server reads consent
	if v == "" {
		return "", true
	}
	if _, found := slices.BinarySearch(o.set, optOutKey(o.Salt, v)); found {
		return ReasonOptedOut, false
	}
	return "", true
}
