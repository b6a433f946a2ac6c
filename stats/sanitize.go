package stats

import (
	"math"
	"reflect"
)

// sanitize replaces any non-finite float in v (a pointer to an output
// struct) by a finite value: NaN by 0 and ±Inf by ±math.MaxFloat64. It
// reports whether it changed anything. Analyze runs it as a last line of
// defence so that the JSON contract (no NaN/Inf) holds even for extreme
// inputs such as alpha = 1e-300, where an interval bound overflows.
func sanitize(v any) bool {
	return sanitizeValue(reflect.ValueOf(v))
}

func sanitizeValue(v reflect.Value) bool {
	changed := false
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			changed = sanitizeValue(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				changed = sanitizeValue(v.Field(i)) || changed
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			changed = sanitizeValue(v.Index(i)) || changed
		}
	case reflect.Float64:
		x := v.Float()
		switch {
		case math.IsNaN(x):
			v.SetFloat(0)
			changed = true
		case math.IsInf(x, 1):
			v.SetFloat(math.MaxFloat64)
			changed = true
		case math.IsInf(x, -1):
			v.SetFloat(-math.MaxFloat64)
			changed = true
		}
	}
	return changed
}
