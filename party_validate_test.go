package maskshare

import (
	"errors"
	"testing"
)

// Party.Validate finds what the session would find in the table, before any
// connection (issue 9, item 1).
func TestPartyValidate(t *testing.T) {
	params := Params{Parties: []string{"a", "b"}, Columns: []Column{{Name: "v", Type: Int64}}}
	good := NewTable(1)
	good.AddRow("x", 1)
	good.AddRow("y", 2)
	dup := NewTable(1)
	dup.AddRow("x", 1)
	dup.AddRow("x", 2)
	cfg := &Config{InsecureNoIdentities: true}
	for _, c := range []struct {
		table *Table
		want  error
	}{{good, nil}, {dup, ErrDuplicateID}, {NewTable(1), ErrEmptyInput}} {
		p, err := NewParty("a", params, c.table, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Fatalf("Validate: %v, want %v", err, c.want)
		}
	}
}
