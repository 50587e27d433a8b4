package channeltest

import (
	"reflect"
	"testing"
)

func TestReassemble(t *testing.T) {
	udh := func(ref, total, part int) *UDH { return &UDH{Ref: ref, Total: total, Part: part} }
	got := Reassemble([]Submit{
		{MessageID: "a2", Source: "S", Destination: "1", UDH: udh(7, 2, 2), Text: "world", DataCoding: 8},
		{MessageID: "x", Source: "S", Destination: "1", Text: "single"},
		{MessageID: "b1", Source: "S", Destination: "2", UDH: udh(7, 2, 1), Text: "other "}, // same ref, other destination
		{MessageID: "a1", Source: "S", Destination: "1", UDH: udh(7, 2, 1), Text: "hello ", DataCoding: 8},
		{Status: 11, Source: "S", Destination: "3", Text: "refused"},
		{MessageID: "c1", Source: "S", Destination: "4", UDH: udh(1, 3, 1), Text: "incomplete"},
	})
	want := []SMS{
		{Source: "S", Destination: "1", Text: "single", Parts: 1, MessageIDs: []string{"x"}},
		{Source: "S", Destination: "1", DataCoding: 8, Text: "hello world", Parts: 2, Ref: 7, MessageIDs: []string{"a1", "a2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Reassemble = %+v\nwant %+v", got, want)
	}
}
