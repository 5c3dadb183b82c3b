package awscount

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxDepth bounds the nesting of maps and lists, as DynamoDB does (32).
const maxDepth = 32

var errItem = errors.New("not a DynamoDB item")

// ItemSize returns the size in bytes that DynamoDB bills for an item
// given in the wire format of the JSON protocol
// ({"name":{"S":"…"},…}), by the rules of "DynamoDB item sizes and
// formats" in the DynamoDB Developer Guide: names and strings count their
// UTF-8 bytes, binaries their raw bytes, numbers one byte per two
// significant digits plus one, booleans and nulls one byte, and lists and
// maps three bytes plus one byte per element.
func ItemSize(item json.RawMessage) (int, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(item, &attrs); err != nil || attrs == nil {
		return 0, errItem
	}
	return mapSize(attrs, 0)
}

func mapSize(attrs map[string]json.RawMessage, depth int) (int, error) {
	n := 0
	for name, v := range attrs {
		s, err := valueSize(v, depth)
		if err != nil {
			return 0, err
		}
		n += len(name) + s
	}
	return n, nil
}

// valueSize is the size of one AttributeValue, without its name.
func valueSize(raw json.RawMessage, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: nested deeper than %d", errItem, maxDepth)
	}
	var av map[string]json.RawMessage
	if err := json.Unmarshal(raw, &av); err != nil || len(av) != 1 {
		return 0, errItem
	}
	for typ, v := range av {
		return typedSize(typ, v, depth)
	}
	return 0, errItem
}

func typedSize(typ string, v json.RawMessage, depth int) (int, error) {
	switch typ {
	case "S":
		return scalar(v, func(s string) (int, error) { return len(s), nil })
	case "N":
		return scalar(v, numberSize)
	case "B":
		return scalar(v, binarySize)
	case "BOOL", "NULL":
		return 1, nil
	case "SS":
		return set(v, func(s string) (int, error) { return len(s), nil })
	case "NS":
		return set(v, numberSize)
	case "BS":
		return set(v, binarySize)
	case "L":
		var elems []json.RawMessage
		if err := json.Unmarshal(v, &elems); err != nil {
			return 0, errItem
		}
		n := 3
		for _, e := range elems {
			s, err := valueSize(e, depth+1)
			if err != nil {
				return 0, err
			}
			n += 1 + s
		}
		return n, nil
	case "M":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil || m == nil {
			return 0, errItem
		}
		s, err := mapSize(m, depth+1)
		return 3 + len(m) + s, err
	}
	return 0, fmt.Errorf("%w: unknown type %q", errItem, typ)
}

func scalar(v json.RawMessage, size func(string) (int, error)) (int, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, errItem
	}
	return size(s)
}

func set(v json.RawMessage, size func(string) (int, error)) (int, error) {
	var ss []string
	if err := json.Unmarshal(v, &ss); err != nil {
		return 0, errItem
	}
	n := 0
	for _, s := range ss {
		k, err := size(s)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// numberSize is DynamoDB's approximation for a number: one byte per two
// significant digits (leading and trailing zeros trimmed), plus one.
func numberSize(s string) (int, error) {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	mant = strings.TrimLeft(mant, "+-")
	digits := strings.Replace(mant, ".", "", 1)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("%w: malformed number", errItem)
	}
	sig := strings.Trim(digits, "0")
	return (len(sig)+1)/2 + 1, nil
}

func binarySize(s string) (int, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, fmt.Errorf("%w: malformed base64", errItem)
	}
	return len(b), nil
}
