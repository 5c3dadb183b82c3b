package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxDepth bounds map and list nesting in an export.
const maxDepth = 32

// ParseExport reads audit items in DynamoDB JSON, either as the output of
// `aws dynamodb scan` (and [WriteExport]): one object with an "Items"
// array, or as a DynamoDB export to S3: one {"Item": …} object per line.
func ParseExport(r io.Reader) ([]map[string]types.AttributeValue, error) {
	dec := json.NewDecoder(r)
	var items []map[string]types.AttributeValue
	for {
		var top struct {
			Items *[]map[string]json.RawMessage
			Item  map[string]json.RawMessage
		}
		if err := dec.Decode(&top); errors.Is(err, io.EOF) {
			return items, nil
		} else if err != nil {
			return nil, fmt.Errorf("parse export: %w", err)
		}
		raws := []map[string]json.RawMessage{top.Item}
		switch {
		case top.Items != nil && top.Item == nil:
			raws = *top.Items
		case top.Items != nil || top.Item == nil:
			return nil, errors.New("parse export: object needs exactly one of Items or Item")
		}
		for _, raw := range raws {
			it, err := decodeMap(raw, 0)
			if err != nil {
				return nil, fmt.Errorf("parse export: item %d: %w", len(items), err)
			}
			items = append(items, it)
		}
	}
}

func decodeMap(raw map[string]json.RawMessage, depth int) (map[string]types.AttributeValue, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	m := make(map[string]types.AttributeValue, len(raw))
	for k, v := range raw {
		av, err := decodeAV(v, depth)
		if err != nil {
			return nil, err
		}
		m[k] = av
	}
	return m, nil
}

// decodeAV reads one {"<type>": value} attribute value.
func decodeAV(raw json.RawMessage, depth int) (types.AttributeValue, error) {
	var tv map[string]json.RawMessage
	if err := json.Unmarshal(raw, &tv); err != nil || len(tv) != 1 {
		return nil, errors.New("attribute value is not a one-key object")
	}
	for typ, v := range tv {
		return decodeTyped(typ, v, depth)
	}
	return nil, nil
}

func decodeTyped(typ string, v json.RawMessage, depth int) (types.AttributeValue, error) {
	var err error
	switch typ {
	case "S":
		var s string
		err = json.Unmarshal(v, &s)
		return &types.AttributeValueMemberS{Value: s}, err
	case "N":
		var s string
		err = json.Unmarshal(v, &s)
		return &types.AttributeValueMemberN{Value: s}, err
	case "B":
		var b []byte // encoding/json decodes base64 into []byte
		err = json.Unmarshal(v, &b)
		return &types.AttributeValueMemberB{Value: nonNil(b)}, err
	case "BOOL":
		var b bool
		err = json.Unmarshal(v, &b)
		return &types.AttributeValueMemberBOOL{Value: b}, err
	case "NULL":
		var b bool
		if err = json.Unmarshal(v, &b); err == nil && !b {
			err = errors.New("NULL must be true")
		}
		return &types.AttributeValueMemberNULL{Value: true}, err
	case "M":
		var m map[string]json.RawMessage
		if err = json.Unmarshal(v, &m); err != nil {
			return nil, err
		}
		out, err := decodeMap(m, depth+1)
		return &types.AttributeValueMemberM{Value: out}, err
	}
	return decodeCollection(typ, v, depth)
}

func decodeCollection(typ string, v json.RawMessage, depth int) (types.AttributeValue, error) {
	var err error
	switch typ {
	case "L":
		var l []json.RawMessage
		if err = json.Unmarshal(v, &l); err != nil || depth >= maxDepth {
			return nil, errors.Join(err, errors.New("bad list"))
		}
		out := make([]types.AttributeValue, len(l))
		for i := range l {
			if out[i], err = decodeAV(l[i], depth+1); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case "SS", "NS":
		var ss []string
		err = json.Unmarshal(v, &ss)
		if typ == "SS" {
			return &types.AttributeValueMemberSS{Value: ss}, err
		}
		return &types.AttributeValueMemberNS{Value: ss}, err
	case "BS":
		var bs [][]byte
		err = json.Unmarshal(v, &bs)
		return &types.AttributeValueMemberBS{Value: bs}, err
	}
	return nil, errors.New("unknown attribute value type")
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// WriteExport writes items as one {"Items": […]} object in DynamoDB JSON,
// with keys in sorted order, which [ParseExport] reads back.
func WriteExport(w io.Writer, items []map[string]types.AttributeValue) error {
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = encodeMap(it)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"Items": out}); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

func encodeMap(m map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = encodeAV(v)
	}
	return out
}

func encodeAV(av types.AttributeValue) map[string]any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": encodeMap(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = encodeAV(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": nonNilStrings(v.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": nonNilStrings(v.Value)}
	case *types.AttributeValueMemberBS:
		bs := make([]string, len(v.Value))
		for i, b := range v.Value {
			bs[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": bs}
	}
	return map[string]any{"NULL": true}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
