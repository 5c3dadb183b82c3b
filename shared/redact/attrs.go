package redact

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
)

// maskDenied replaces the value of a denylisted key.
const maskDenied = "[redacted]"

// denied holds the denylisted keys, normalised by normKey.
var denied = map[string]bool{
	"phone": true, "to": true, "from": true, "body": true, "text": true,
	"token": true, "msisdn": true, "waid": true, "name": true,
	"profilename": true, "authorization": true, "secret": true, "key": true,
	"password": true, "email": true, "bsuid": true,
}

// deniedSuffixes deny every key that ends in one of them, after normKey:
// credentials, and the identifiers of a WhatsApp user (phone number,
// business-scoped user id, username).
var deniedSuffixes = []string{"token", "secret", "key", "password", "phone", "userid", "username"}

// isDenied reports whether the value of key must never be logged.
func isDenied(key string) bool {
	var buf [64]byte
	k := normKey(buf[:0], key)
	if denied[string(k)] { // no allocation: the compiler reuses k
		return true
	}
	for _, s := range deniedSuffixes {
		if bytes.HasSuffix(k, []byte(s)) {
			return true
		}
	}
	return false
}

// normKey appends key to dst in lower case, without '_' and '-'.
func normKey(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// maxDepth bounds how deep anyValue follows structs and maps, which may
// form cycles; deeper values are formatted as text and scanned.
const maxDepth = 8

// attr returns a with its value redacted.
func attr(a slog.Attr) slog.Attr { return attrAt(a, 0) }

func attrAt(a slog.Attr, depth int) slog.Attr {
	if isDenied(a.Key) && a.Value.Kind() != slog.KindLogValuer {
		return slog.String(a.Key, maskDenied)
	}
	v := a.Value.Resolve()
	if v.Kind() == slog.KindString {
		return slog.String(a.Key, stringValue(a.Key, v.String()))
	}
	return slog.Attr{Key: a.Key, Value: value(v, depth)}
}

// stringValue returns s, the string value of key, scanned, unless key is an
// id key and s has an identifier's shape: then s is returned whole, digit
// runs included. Clean text pays only for the scan.
func stringValue(key, s string) string {
	out := String(s)
	if out != s && isIDKey(key) && isID(s) {
		return s
	}
	return out
}

// value returns a resolved value with its strings scanned.
func value(v slog.Value, depth int) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(String(v.String()))
	case slog.KindGroup:
		return slog.GroupValue(attrList(v.Group(), depth+1)...)
	case slog.KindAny:
		return anyValue(v.Any(), depth)
	default:
		return v
	}
}

// attrList returns a redacted copy of attrs.
func attrList(attrs []slog.Attr, depth int) []slog.Attr {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = attrAt(a, depth)
	}
	return out
}

// anyValue redacts a value of kind Any. Errors become their scanned
// message and byte slices their length. Structs with exported fields and
// maps with string keys become groups, so the denylist applies to field
// names and map keys. Anything else is formatted with %+v and scanned.
func anyValue(x any, depth int) slog.Value {
	switch v := x.(type) {
	case error:
		return slog.StringValue(String(v.Error()))
	case []byte:
		return slog.StringValue(fmt.Sprintf("[%d bytes]", len(v)))
	case fmt.Formatter, fmt.Stringer:
		return text(v)
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage
		return slog.StringValue(fmt.Sprintf("[%d bytes]", rv.Len()))
	}
	if depth < maxDepth {
		if attrs := reflectAttrs(rv); len(attrs) > 0 {
			return slog.GroupValue(attrList(attrs, depth+1)...)
		}
	}
	return text(x)
}

// text formats x with %+v and scans the result.
func text(x any) slog.Value { return slog.StringValue(String(fmt.Sprintf("%+v", x))) }

// reflectAttrs returns the exported fields of a struct, or the entries of a
// map with string keys in key order, as unredacted attributes; nil for
// anything else.
func reflectAttrs(rv reflect.Value) []slog.Attr {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	switch {
	case rv.Kind() == reflect.Struct:
		return structAttrs(rv)
	case rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String:
		return mapAttrs(rv)
	}
	return nil
}

func structAttrs(rv reflect.Value) []slog.Attr {
	var attrs []slog.Attr
	t := rv.Type()
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			attrs = append(attrs, slog.Any(f.Name, rv.Field(i).Interface()))
		}
	}
	return attrs
}

func mapAttrs(rv reflect.Value) []slog.Attr {
	keys := rv.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	attrs := make([]slog.Attr, len(keys))
	for i, k := range keys {
		attrs[i] = slog.Any(String(k.String()), rv.MapIndex(k).Interface()) // keys are data
	}
	return attrs
}
