package experiments

import (
	"fmt"
	"slices"
	"strconv"
)

// MaxAttributeValueBytes caps each text value among the attributes of an
// assignment or an OFREP evaluation (events already cap theirs at 256
// bytes): conditions such as $regex run over every value, and a value of
// megabytes made one evaluation take seconds.
const MaxAttributeValueBytes = 4096

// checkAttributeValues reports every text value of attrs (nested ones
// included) over MaxAttributeValueBytes, each named by its field path.
func checkAttributeValues(field string, attrs map[string]any) error {
	var errs ValidationErrors
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case string:
			if len(x) > MaxAttributeValueBytes {
				errs = append(errs, Invalid(path, "too_long", "must be at most %d bytes", MaxAttributeValueBytes))
			}
		case []any:
			for i, e := range x {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(fmt.Sprintf("%s.%s", path, k), x[k])
			}
		}
	}
	walk(field, attrs)
	return errs.Err()
}
