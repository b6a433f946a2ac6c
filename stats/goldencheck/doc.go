// Package goldencheck compares every number of a golden file with a check
// value computed independently of the code under test.
//
// Golden files (the report's JSON and CSV, the output of `promolift
// analyze`) are written by the code they test (`go test -update`), so by
// themselves they only pin today's behaviour. Each one has beside it a
// Python script, run by hand, that recomputes every number from the raw
// inputs following the documented semantics, and the check file it writes:
//
//	{"json": {"path.to.leaf": [value, tolerance], ...},
//	 "csv":  {"key|…|column": [value, tolerance], ...},
//	 "text": {"path.to.string": [value, ...], ...}}
//
// A JSON path joins object keys and array indices with "."; a CSV key joins
// the cells of the key columns and the column name with "|". A number
// matches when |golden − check| ≤ tolerance·max(|golden|, |check|). Every
// number of the golden must have a check value (a new field without one is
// a problem) and every check value must find its number (a field that
// disappeared or became null is a problem too). The numbers written inside
// JSON strings (a decision's "ROI 178.0%", a date, an hour) are checked the
// same way against "text": each shown number must be its check value
// rounded to the digits shown.
package goldencheck
