package audit

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestParseEventRejects(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	tests := []struct {
		name string
		edit func(map[string]types.AttributeValue)
	}{
		{"missing hash", func(it map[string]types.AttributeValue) { delete(it, attrHash) }},
		{"extra attribute", func(it map[string]types.AttributeValue) { it["note"] = s("x") }},
		{"seq as string", func(it map[string]types.AttributeValue) { it[attrSeq] = s("7") }},
		{"seq leading zero", func(it map[string]types.AttributeValue) { it[attrSeq] = n("07") }},
		{"seq zero", func(it map[string]types.AttributeValue) { it[attrSeq] = n("0") }},
		{"short sk", func(it map[string]types.AttributeValue) { it[attrSK] = s("7") }},
		{"sk not digits", func(it map[string]types.AttributeValue) { it[attrSK] = s("0000000000000000000x") }},
		{"time with offset", func(it map[string]types.AttributeValue) { it[attrTime] = s("2026-03-01T13:30:00.123456+01:00") }},
		{"time trailing zero", func(it map[string]types.AttributeValue) { it[attrTime] = s("2026-03-01T12:30:00.1234560Z") }},
		{"upper-case hash", func(it map[string]types.AttributeValue) {
			it[attrHash] = s("F1022AEE99B6F77510C2E074CABB3F970C7661BF23D34305DAE3C444017FCAF5")
		}},
		{"short prev hash", func(it map[string]types.AttributeValue) { it[attrPrevHash] = s("00") }},
		{"version 2", func(it map[string]types.AttributeValue) { it[attrVersion] = n("2") }},
		{"bad chain", func(it map[string]types.AttributeValue) { it[attrPK] = s("chain#a b") }},
		{"empty chain", func(it map[string]types.AttributeValue) { it[attrPK] = s("chain#") }},
		{"actor extra", func(it map[string]types.AttributeValue) {
			it[attrActor] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{attrFunction: s("f"), attrCaller: s("c"), "x": s("y")}}
		}},
		{"details not strings", func(it map[string]types.AttributeValue) {
			it[attrDetails] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": n("1")}}
		}},
		{"empty details", func(it map[string]types.AttributeValue) { it[attrDetails] = &types.AttributeValueMemberM{} }},
		{"expiry zero", func(it map[string]types.AttributeValue) { it[attrExpiresAt] = n("0") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := vectorEvent()
			e.Hash = e.ComputeHash()
			it := eventItem(&e)
			tt.edit(it)
			if _, err := parseEvent(it); err == nil {
				t.Errorf("parseEvent(%s) err = nil, want error", tt.name)
			}
		})
	}
}
