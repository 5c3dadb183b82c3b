package awscount

import (
	"encoding/json"
	"math"
)

// Schema describes the tables' global secondary indexes, so a write can
// be charged for the index entries it writes too: DynamoDB bills a write
// to a table once for the table and once for each GSI it updates.
type Schema map[string]Table

// Table is one table's primary key and global secondary indexes.
type Table struct {
	// Keys are the table's key attribute names.
	Keys    []string
	Indexes []Index
}

// Index is a global secondary index.
type Index struct {
	Name string
	// Keys are the index's key attribute names; an item is in the index
	// only when it has all of them.
	Keys []string
	// Projection is "ALL", "KEYS_ONLY" or "INCLUDE" (with NonKey).
	Projection string
	NonKey     []string
}

// indexWrites returns the index entries a whole item written to table
// creates, and their write units (⌈projected size / 1 KB⌉ each, as a
// standard write: a lower bound if DynamoDB bills a transaction's index
// writes double).
func (s Schema) indexWrites(table string, item json.RawMessage) (int, float64) {
	t, ok := s[table]
	if !ok || len(t.Indexes) == 0 {
		return 0, 0
	}
	var attrs map[string]json.RawMessage
	if json.Unmarshal(item, &attrs) != nil {
		return 0, 0
	}
	n, wru := 0, 0.0
	for _, ix := range t.Indexes {
		if !hasAll(attrs, ix.Keys) {
			continue
		}
		size, err := projected(attrs, t.Keys, ix)
		if err != nil {
			continue
		}
		n++
		wru += math.Max(1, math.Ceil(float64(size)/writeUnit))
	}
	return n, wru
}

func hasAll(attrs map[string]json.RawMessage, names []string) bool {
	for _, k := range names {
		if _, ok := attrs[k]; !ok {
			return false
		}
	}
	return len(names) > 0
}

// projected is the size of the index entry: the index and table keys
// plus the projected attributes.
func projected(attrs map[string]json.RawMessage, tableKeys []string, ix Index) (int, error) {
	keep := map[string]json.RawMessage{}
	add := func(names []string) {
		for _, k := range names {
			if v, ok := attrs[k]; ok {
				keep[k] = v
			}
		}
	}
	switch ix.Projection {
	case "ALL":
		keep = attrs
	case "INCLUDE":
		add(ix.NonKey)
	}
	add(tableKeys)
	add(ix.Keys)
	return mapSize(keep, 0)
}
