package awscount

import (
	"encoding/json"
	"fmt"
	"math"
)

// Units is what one DynamoDB request costs and does, estimated from its
// request and response bodies (JSON protocol).
type Units struct {
	// Writes counts item writes: one per PutItem, UpdateItem or
	// DeleteItem, one per action of a TransactWriteItems (ConditionCheck
	// included) and one per request of a BatchWriteItem.
	Writes int
	// Reads counts items returned by GetItem, BatchGetItem,
	// TransactGetItems, Query and Scan.
	Reads int
	// WRU and RRU are the on-demand write and read request units the
	// request is billed (see [DynamoDBUnits] for the rules and
	// assumptions).
	WRU, RRU float64
	// FullItems counts the writes that carry a whole item (PutItem, Put
	// actions, PutRequests) and WrittenBytes sums their sizes, for the
	// average size of a written item.
	FullItems, WrittenBytes int
	// IndexWrites counts the global secondary index entries those whole
	// items write (their WRU are in WRU); see [Schema].
	IndexWrites int
}

// Add returns the sum of u and v.
func (u Units) Add(v Units) Units {
	return Units{Writes: u.Writes + v.Writes, Reads: u.Reads + v.Reads, WRU: u.WRU + v.WRU, RRU: u.RRU + v.RRU,
		FullItems: u.FullItems + v.FullItems, WrittenBytes: u.WrittenBytes + v.WrittenBytes, IndexWrites: u.IndexWrites + v.IndexWrites}
}

const (
	writeUnit = 1024 // bytes per write request unit
	readUnit  = 4096 // bytes per read request unit
)

// DynamoDBUnits estimates the request units of one DynamoDB call from the
// operation name (e.g. "TransactWriteItems"), its request body and, for
// reads, its response body. Rules, from the DynamoDB on-demand pricing
// page and the Developer Guide:
//
//   - A write costs ⌈item size / 1 KB⌉ WRU; a transactional write twice
//     that. A full item (Put) is sized exactly; for Update, Delete and
//     ConditionCheck only the key and the expression values are known, so
//     they are sized from those (at least 1 WRU): a lower bound when the
//     stored item is larger.
//   - A strongly consistent read costs ⌈size / 4 KB⌉ RRU, an eventually
//     consistent read half that, a transactional read twice that; GetItem
//     and the batch reads round up per item, Query and Scan round up the
//     sum. A read that returns nothing still costs its minimum. Query and
//     Scan bill the items read before any filter; only returned items are
//     visible here, so filtered-out items are sized as the average of the
//     returned ones (or 1 KB when none is returned).
//   - The request is billed whether or not its condition holds, so a
//     failed conditional write is counted like a successful one.
//
// Other operations cost no request units. DynamoDBUnits knows no table's
// indexes; [Schema.Units] also charges index writes.
func DynamoDBUnits(op string, req, resp []byte) (Units, error) {
	return Schema(nil).Units(op, req, resp)
}

// Units is [DynamoDBUnits] plus, for every whole item written, one
// standard write per global secondary index of s that the item belongs
// to. Index entries that an Update or a Delete changes are not visible in
// the request and are not counted.
func (s Schema) Units(op string, req, resp []byte) (Units, error) {
	switch op {
	case "PutItem", "UpdateItem", "DeleteItem":
		return s.single(req)
	case "TransactWriteItems":
		return s.transactWrite(req)
	case "BatchWriteItem":
		return s.batchWrite(req)
	case "GetItem":
		return getItem(req, resp)
	case "Query", "Scan":
		return query(req, resp)
	case "BatchGetItem":
		return batchGet(req, resp)
	case "TransactGetItems":
		return transactGet(resp)
	}
	return Units{}, nil
}

// writeAction is a Put, Update, Delete or ConditionCheck, or the body of
// PutItem, UpdateItem and DeleteItem.
type writeAction struct {
	TableName                 string          `json:"TableName"`
	Item                      json.RawMessage `json:"Item"`
	Key                       json.RawMessage `json:"Key"`
	ExpressionAttributeValues json.RawMessage `json:"ExpressionAttributeValues"`
}

// units is what the action writes, at factor WRU per KB (2 in a
// transaction): the full item when the request carries one, else its key
// plus its expression values.
func (s Schema) units(a writeAction, factor float64) (Units, error) {
	if len(a.Item) > 0 && string(a.Item) != "null" {
		n, err := ItemSize(a.Item)
		if err != nil {
			return Units{}, err
		}
		ix, ixWRU := s.indexWrites(a.TableName, a.Item)
		return Units{Writes: 1, WRU: writeUnits(n, factor) + ixWRU, FullItems: 1, WrittenBytes: n, IndexWrites: ix}, nil
	}
	n := 0
	for _, part := range []json.RawMessage{a.Key, a.ExpressionAttributeValues} {
		if len(part) == 0 || string(part) == "null" {
			continue
		}
		s, err := ItemSize(part)
		if err != nil {
			return Units{}, err
		}
		n += s
	}
	return Units{Writes: 1, WRU: writeUnits(n, factor)}, nil
}

func writeUnits(size int, factor float64) float64 {
	return factor * math.Max(1, math.Ceil(float64(size)/writeUnit))
}

func (s Schema) single(req []byte) (Units, error) {
	var a writeAction
	if err := json.Unmarshal(req, &a); err != nil {
		return Units{}, fmt.Errorf("write request: %w", errItem)
	}
	return s.units(a, 1)
}

func (s Schema) transactWrite(req []byte) (Units, error) {
	var body struct {
		TransactItems []struct {
			Put, Update, Delete, ConditionCheck *writeAction
		}
	}
	if err := json.Unmarshal(req, &body); err != nil {
		return Units{}, fmt.Errorf("TransactWriteItems request: %w", errItem)
	}
	var u Units
	for _, it := range body.TransactItems {
		for _, a := range []*writeAction{it.Put, it.Update, it.Delete, it.ConditionCheck} {
			if a == nil {
				continue
			}
			w, err := s.units(*a, 2)
			if err != nil {
				return Units{}, err
			}
			u = u.Add(w)
		}
	}
	return u, nil
}

func (s Schema) batchWrite(req []byte) (Units, error) {
	var body struct {
		RequestItems map[string][]struct {
			PutRequest, DeleteRequest *writeAction
		}
	}
	if err := json.Unmarshal(req, &body); err != nil {
		return Units{}, fmt.Errorf("BatchWriteItem request: %w", errItem)
	}
	var u Units
	for table, reqs := range body.RequestItems {
		for _, r := range reqs {
			for _, a := range []*writeAction{r.PutRequest, r.DeleteRequest} {
				if a == nil {
					continue
				}
				a.TableName = table
				w, err := s.units(*a, 1)
				if err != nil {
					return Units{}, err
				}
				u = u.Add(w)
			}
		}
	}
	return u, nil
}

// consistency is the read factor: 1 strongly consistent, ½ eventually.
func consistency(consistent bool) float64 {
	if consistent {
		return 1
	}
	return 0.5
}

func readUnits(size int, factor float64) float64 {
	return factor * math.Max(1, math.Ceil(float64(size)/readUnit))
}

func getItem(req, resp []byte) (Units, error) {
	var in struct{ ConsistentRead bool }
	var out struct{ Item json.RawMessage }
	if err := json.Unmarshal(req, &in); err != nil {
		return Units{}, fmt.Errorf("GetItem request: %w", errItem)
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return Units{}, fmt.Errorf("GetItem response: %w", errItem)
	}
	u := Units{RRU: readUnits(0, consistency(in.ConsistentRead))}
	if len(out.Item) > 0 && string(out.Item) != "null" {
		n, err := ItemSize(out.Item)
		if err != nil {
			return Units{}, err
		}
		u = Units{Reads: 1, RRU: readUnits(n, consistency(in.ConsistentRead))}
	}
	return u, nil
}

func query(req, resp []byte) (Units, error) {
	var in struct{ ConsistentRead bool }
	var out struct {
		Items        []json.RawMessage
		ScannedCount int
	}
	if err := json.Unmarshal(req, &in); err != nil {
		return Units{}, fmt.Errorf("query request: %w", errItem)
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return Units{}, fmt.Errorf("query response: %w", errItem)
	}
	total := 0
	for _, it := range out.Items {
		n, err := ItemSize(it)
		if err != nil {
			return Units{}, err
		}
		total += n
	}
	avg := writeUnit // 1 KB for filtered-out items when nothing came back
	if len(out.Items) > 0 {
		avg = total / len(out.Items)
	}
	if hidden := out.ScannedCount - len(out.Items); hidden > 0 {
		total += hidden * avg
	}
	return Units{Reads: len(out.Items), RRU: readUnits(total, consistency(in.ConsistentRead))}, nil
}

func batchGet(req, resp []byte) (Units, error) {
	var in struct {
		RequestItems map[string]struct{ ConsistentRead bool }
	}
	var out struct {
		Responses map[string][]json.RawMessage
	}
	if err := json.Unmarshal(req, &in); err != nil {
		return Units{}, fmt.Errorf("BatchGetItem request: %w", errItem)
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return Units{}, fmt.Errorf("BatchGetItem response: %w", errItem)
	}
	var u Units
	for table, items := range out.Responses {
		f := consistency(in.RequestItems[table].ConsistentRead)
		for _, it := range items {
			n, err := ItemSize(it)
			if err != nil {
				return Units{}, err
			}
			u = u.Add(Units{Reads: 1, RRU: readUnits(n, f)})
		}
	}
	return u, nil
}

func transactGet(resp []byte) (Units, error) {
	var out struct {
		Responses []struct{ Item json.RawMessage }
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return Units{}, fmt.Errorf("TransactGetItems response: %w", errItem)
	}
	var u Units
	for _, r := range out.Responses {
		n := 0
		if len(r.Item) > 0 && string(r.Item) != "null" {
			s, err := ItemSize(r.Item)
			if err != nil {
				return Units{}, err
			}
			n = s
			u.Reads++
		}
		u.RRU += readUnits(n, 2)
	}
	return u, nil
}
