package psi_test

import (
	"fmt"

	"github.com/maskshare/maskshare/psi"
)

func ExampleNormalize() {
	for _, id := range []string{"  DE89 3704 0044 0532 0130 00\n", "\u212aUNDE-7", "Straße", "   ", "\xff"} {
		n, err := psi.Normalize(id, true)
		if err != nil {
			fmt.Printf("%+q: %v\n", id, err)
			continue
		}
		fmt.Printf("%+q -> %q\n", id, n)
	}
	// Output:
	// "  DE89 3704 0044 0532 0130 00\n" -> "de89 3704 0044 0532 0130 00"
	// "\u212aUNDE-7" -> "kunde-7"
	// "Stra\u00dfe" -> "straße"
	// "   ": psi: empty identifier
	// "\xff": psi: identifier is not valid UTF-8
}

func ExampleIntersect() {
	// Three parties' tags; in a session these come from Tagger.TagAll or,
	// fully blinded, from Key.Blind.
	alice := []psi.Tag{{0x30}, {0x10}, {0x20}}
	bob := []psi.Tag{{0x20}, {0x40}}
	carol := []psi.Tag{{0x10}, {0x20}, {0x50}}

	size, matches, err := psi.Intersect([][]psi.Tag{alice, bob, carol}, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("held by at least two parties:", size)
	for i, name := range []string{"alice", "bob", "carol"} {
		for _, m := range matches[i] {
			fmt.Printf("%s: position %d is record %d, held by %d\n", name, m.Pos, m.Index, m.Holders)
		}
	}
	// Output:
	// held by at least two parties: 2
	// alice: position 1 is record 0, held by 2
	// alice: position 2 is record 1, held by 3
	// bob: position 0 is record 1, held by 3
	// carol: position 0 is record 0, held by 2
	// carol: position 1 is record 1, held by 3
}

func Example_ecdh() {
	var session [32]byte // in a session: agreed fresh random bytes
	ids := [][]string{
		{"cust-1", "cust-2", "cust-3"},
		{"cust-3", "cust-4", "cust-1"},
	}
	keys := make([]*psi.Key, len(ids))
	for i := range keys {
		k, err := psi.NewKey()
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	// Each party hashes and blinds its own identifiers; the other party
	// blinds the result once more. Only fully blinded lists reach the
	// coordinator.
	lists := make([][]psi.Element, len(ids))
	for i := range ids {
		lists[i] = make([]psi.Element, len(ids[i]))
		keys[i].HashAndBlind(lists[i], ids[i], session)
		if err := keys[1-i].Blind(lists[i], lists[i]); err != nil {
			panic(err)
		}
	}
	size, matches, err := psi.Intersect(lists, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("common:", size)
	for _, m := range matches[0] {
		fmt.Println("party 0 holds", ids[0][m.Pos])
	}
	// Output:
	// common: 2
	// party 0 holds cust-1
	// party 0 holds cust-3
}
