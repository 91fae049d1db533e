package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

// Body limits: admin bodies carry an app (lists of domains and URIs);
// connect bodies a code, a credential, a URL and a few short fields.
const (
	maxAdminBody   = 256 << 10
	maxConnectBody = 64 << 10
)

// decodeJSON decodes the JSON object body of c into v, a pointer to a
// struct, strictly: every key must be the exact json name of a field
// (encoding/json alone would take "apikey" for "apiKey" and "redirectURL"
// for "redirectUrl", hiding a caller's typo), at any depth; wrong types,
// malformed or trailing JSON and a name given twice in one object are
// invalid_argument naming the field ("app.nme", "sort[0].order"); a body
// over limit bytes is payload_too_large. An empty body leaves v as it is.
func decodeJSON(c *gin.Context, v any, limit int64) error {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return model.Errorf(model.CodePayloadTooLarge, "the body is larger than %d bytes", limit)
		}
		return model.Invalid("", "the body could not be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	// The first value alone is checked and decoded, so trailing data is
	// refused before anything in it is looked at.
	var value json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&value); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return model.Invalid("", "unexpected data after the JSON object")
	}
	if err := exactKeys(value, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	// DisallowUnknownFields stays as a backstop for shapes exactKeys does
	// not walk.
	dec = json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return model.Invalid(f, "has the wrong type: expected %s, got %s", kindName(te.Type.Kind()), te.Value)
	case errors.As(err, &se):
		return model.Invalid("", "malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return model.Invalid("", "malformed JSON: the body ends too early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			return model.Invalid(n, "%q is not a known field", n)
		}
	}
	return model.Invalid("", "malformed JSON")
}

// exactKeys checks that every key of the JSON object raw is the exact json
// name of a field of struct type t, recursing through pointers, structs and
// lists. path names raw in errors. Anything that is not the JSON shape t
// expects is left to the decoder to refuse with its type error.
func exactKeys(raw []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, dup, ok := objectMembers(raw)
		if !ok {
			return nil
		}
		if dup != "" {
			// encoding/json would keep the last one silently, while a
			// gateway in front may have checked the first.
			sub := dup
			if path != "" {
				sub = path + "." + dup
			}
			return model.Invalid(sub, "is given more than once")
		}
		// Sorted, so the field an error names does not depend on map order.
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			f, ok := jsonField(t, k)
			if !ok {
				return model.Invalid(sub, "%q is not a known field", k)
			}
			if err := exactKeys(obj[k], f.Type, sub); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		for i, el := range list {
			if err := exactKeys(el, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// objectMembers reads the JSON object raw member by member: its members,
// and the first name that occurs twice (""). ok is false when raw is not
// an object.
func objectMembers(raw []byte) (obj map[string]json.RawMessage, dup string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, "", false
	}
	obj = map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		name, isName := tok.(string)
		if err != nil || !isName {
			return nil, "", false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, "", false
		}
		if _, seen := obj[name]; seen && dup == "" {
			dup = name
		}
		obj[name] = v
	}
	return obj, dup, true
}

// jsonField finds the field of t whose json name is exactly name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return "a " + k.String()
}
