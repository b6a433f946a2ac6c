package experiments

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Links between a customer and the other units of theirs (issue 22).
//
// A customer is the value of the unit attribute "id" (DefaultUnitAttribute:
// AssignRequest.UnitID, OFREP's targetingKey). An experiment hashed on
// another attribute (device_id, anonymous_id, …) keys what it stores by
// that attribute's value: raw events, exposures_rollup, unit_metrics,
// customer_aggregates, sticky docs, capped units. Erasure could not find
// those rows from the customer ID, so whenever the service stores a row
// keyed by such a unit for a request that also names the customer, it
// records the link (customer ID, attribute, unit ID) with it:
//
//   - an exposure logged by Assign, EvaluateFlag or EvaluateFlagsLogged
//     carries its link (Event.CustomerID, Event.UnitAttribute), and the
//     store records it in the transaction that stores the exposure (the
//     group commit of exposurebatch.go: no extra round trip);
//   - an event sent to the events API with a customer_id besides its
//     unit_id (a conversion keyed by the device ID) links the same way;
//   - a sticky doc or a capped unit stored by a call that logs no exposure
//     of its unit (a bulk prefetch, a capped promotion) is linked by
//     CustomerStore.LinkUnits in the same call (before the sticky docs are
//     saved; a capped unit is recorded while the call assigns, just before).
//
// EraseCustomer erases every row keyed by the customer or by a unit linked
// to it, and every link of those units, in one transaction. A unit linked
// to two customers (a shared device) is erased with either of them: what it
// holds is about both.

// UnitLink ties a unit, the value UnitID of Attribute, to the customer it
// belongs to.
type UnitLink struct {
	CustomerID string
	Attribute  string
	UnitID     string
}

// LinkAttributeEvent is the Attribute of the link of an event sent with a
// customer_id and no known attribute: the event's unit_id.
const LinkAttributeEvent = "unit_id"

// linkTextOK reports whether s can be stored as a link's customer or unit.
func linkTextOK(s string, max int) bool {
	return s != "" && len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Valid reports whether the link ties two different, storable units.
func (l UnitLink) Valid() bool {
	return l.CustomerID != l.UnitID && linkTextOK(l.CustomerID, MaxUnitIDLen) &&
		linkTextOK(l.UnitID, MaxUnitIDLen) && linkTextOK(l.Attribute, MaxNameLen)
}

// Link returns the link the event records: its unit tied to its
// CustomerID (false when it has none, or the customer is the unit).
func (e *Event) Link() (UnitLink, bool) {
	if e.CustomerID == "" || e.CustomerID == e.UnitID {
		return UnitLink{}, false
	}
	attr := e.UnitAttribute
	if attr == "" {
		attr = LinkAttributeEvent
	}
	l := UnitLink{CustomerID: e.CustomerID, Attribute: attr, UnitID: e.UnitID}
	return l, l.Valid()
}

// EventLinks returns the distinct links of events, in order of first
// appearance. For the stores: IngestEvents records them in its transaction,
// for duplicates too (a device seen again for another customer).
func EventLinks(events []Event) []UnitLink {
	var out []UnitLink
	var seen map[UnitLink]bool
	for i := range events {
		l, ok := events[i].Link()
		if !ok || seen[l] {
			continue
		}
		if seen == nil {
			seen = map[UnitLink]bool{}
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

// linkKey is the key of a link in the exposure batcher's recent set: the
// first 16 bytes of the SHA-256 of its parts (a space apart from exposure
// IDs, which are hex SHA-256 of other text).
func linkKey(l UnitLink) [16]byte {
	sum := sha256.Sum256([]byte("link\x00" + l.CustomerID + "\x00" + l.Attribute + "\x00" + l.UnitID))
	var k [16]byte
	copy(k[:], sum[:16])
	return k
}

// customerOf returns the customer ID of attrs: its DefaultUnitAttribute
// when that is a string.
func customerOf(attrs map[string]any) string {
	c, _ := attrs[DefaultUnitAttribute].(string)
	return c
}

// link returns the link of unit, the value of attribute attr, to the
// customer of the call (false when there is none, or it is the unit).
func (u *unitAssignment) link(attr, unit string) (UnitLink, bool) {
	l := UnitLink{CustomerID: customerOf(u.attrs), Attribute: attr, UnitID: unit}
	return l, l.Valid()
}

// addLink notes that the call stores a row keyed by unit, the value of
// attr, so finish links it to the customer.
func (u *unitAssignment) addLink(attr, unit string) {
	l, ok := u.link(attr, unit)
	if !ok {
		return
	}
	if u.links == nil {
		u.links = map[UnitLink]bool{}
	}
	u.links[l] = true
}

// storeLinks records the links of the call that the exposures it logs do
// not carry (sticky docs, capped units; exposures carry their own) and
// that were not recorded recently, before the rows they link are stored.
func (u *unitAssignment) storeLinks(ctx context.Context, fresh []Event) error {
	if len(u.links) == 0 {
		return nil
	}
	for i := range fresh {
		if l, ok := fresh[i].Link(); ok {
			delete(u.links, l)
		}
	}
	b := u.s.exposures
	var out []UnitLink
	for l := range u.links {
		if !b.recent.Contains(linkKey(l)) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil
	}
	cs, err := u.s.customerStore()
	if err != nil {
		return nil // no customer features: nothing to erase by
	}
	if err := cs.LinkUnits(ctx, out); err != nil {
		return fmt.Errorf("link units: %w", err)
	}
	for _, l := range out {
		b.recent.Add(linkKey(l))
	}
	return nil
}
