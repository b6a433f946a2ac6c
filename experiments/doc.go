// Package experiments is the promolift domain: promotion experiments and
// their variants, flags, API keys, exposure and conversion events, the
// attribution rules, and the Service that enforces them.
//
// The package owns the rules and nothing that does I/O: persistence is
// behind the small interfaces in store.go, implemented by the sqlite and
// postgres subpackages and checked by the one suite in storetest; HTTP is in
// httpapi. Domain types carry no struct tags: stores have row types and the
// HTTP layer has its own DTOs.
//
// Errors returned by this package and by stores are *Error values carrying a
// Kind (invalid, not found, conflict, ...), a machine-readable Code and,
// for validation problems, the Field at fault. Use errors.Is with the Err*
// sentinels to test the kind.
package experiments
