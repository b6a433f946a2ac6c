package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

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
// 400 unknown_field, every member of data that v has no field for (all of
// them, each with its path), together with any value of the wrong type.
func (a *api) decodeDefinition(c *gin.Context, v any) error {
	data, err := a.readBody(c, true)
	if err != nil {
		return err
	}
	var errs []FieldError
	derr := unmarshal(data, v)
	if derr != nil && derr.Field == "body" && derr.Code != "invalid_type" {
		return badRequest(derr.Field, derr.Code, derr.Detail) // not JSON: nothing else to say
	}
	if derr != nil {
		errs = append(errs, FieldError{Field: derr.Field, Code: derr.Code, Detail: derr.Detail})
	}
	if field, code := scanJSON(data); code != "" {
		p := scanProblem(field, code)
		errs = append(errs, FieldError{Field: field, Code: code, Detail: p.Detail})
	}
	for _, f := range unknownFields(data, reflect.TypeOf(v)) {
		errs = append(errs, FieldError{Field: f, Code: "unknown_field",
			Detail: f + ": is not a field of this definition (unknown fields are rejected; check the spelling)"})
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return badRequest(errs[0].Field, errs[0].Code, errs[0].Detail)
	}
	return &Problem{Status: 400, Code: errs[0].Code, Field: errs[0].Field, Errors: errs,
		Detail: "the request has several problems: see errors"}
}

// unknownFields returns the paths ("variants[1].promotion.kind") of the
// object members of the JSON document data that the Go type t (what data
// is decoded into) has no field for, as encoding/json matches them (a
// struct field by its JSON name, regardless of case). Values decoded by
// their own UnmarshalJSON, into an interface or a json.RawMessage are not
// looked into. The paths are sorted.
func unknownFields(data []byte, t reflect.Type) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return nil
	}
	var out []string
	walkUnknown(doc, t, "", &out)
	slices.Sort(out)
	return out
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func walkUnknown(doc any, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return
	}
	switch v := doc.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			for k, val := range v {
				ft, ok := fields[k]
				if !ok {
					ft, ok = fieldFold(fields, k)
				}
				if !ok {
					*out = append(*out, join(path, k))
					continue
				}
				walkUnknown(val, ft, join(path, k), out)
			}
		case reflect.Map:
			for k, val := range v {
				walkUnknown(val, t.Elem(), join(path, k), out)
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, val := range v {
				walkUnknown(val, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
			}
		}
	}
}

// jsonFields maps the JSON names of the struct type t's fields (with those
// of embedded structs) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := fields[k]; !ok {
						fields[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// fieldFold finds the field whose name equals k regardless of case, as
// encoding/json does when no name matches exactly.
func fieldFold(fields map[string]reflect.Type, k string) (reflect.Type, bool) {
	for name, t := range fields {
		if strings.EqualFold(name, k) {
			return t, true
		}
	}
	return nil, false
}

// join appends the key k to path.
func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
