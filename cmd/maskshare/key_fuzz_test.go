package main

import (
	"encoding/json"
	"math/big"
	"reflect"
	"testing"

	"github.com/maskshare/maskshare/custody/slicing"
	"github.com/maskshare/maskshare/transport"
)

// FuzzKeyPlacementFile feeds arbitrary bytes to the nodes and placement
// file decoder: it never panics; what it accepts has valid, distinct names
// and kinds, slices in range and, where it converts, probabilities in
// [0, 1]; and an accepted file re-encodes to one that decodes the same.
func FuzzKeyPlacementFile(f *testing.F) {
	nodes := testNodes()
	seed, _ := json.Marshal(nodes)
	f.Add(seed)
	nodes.Threshold = 3
	for i := range nodes.Nodes {
		nodes.Nodes[i].Slices = 1
		nodes.Nodes[i].Addr = "127.0.0.1:7601"
	}
	seed, _ = json.Marshal(nodes)
	f.Add(seed)
	f.Add([]byte(`{"threshold": 2, "nodes": [{"name": "a", "kind": "client", "slices": 2, "loss": "1/2", "compromise": "0.5"}]}`))
	f.Add([]byte(`{"nodes": [{"name": "a", "kind": "bank"}]}`))
	f.Add([]byte(`{"nodes": [{"name": "a", "kind": "client"}, {"name": "a", "kind": "client"}]}`))
	f.Add([]byte(`{"nodes": []} {}`))
	const path = "p.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		pf, err := parsePlacementFile(path, data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range pf.Nodes {
			if !transport.ValidName(n.Name) || seen[n.Name] || (n.Kind != "institution" && n.Kind != "client") ||
				n.Slices < 0 || n.Slices > slicing.MaxNodeSlices {
				t.Fatalf("accepted node %+v", n)
			}
			seen[n.Name] = true
		}
		if sn, err := pf.slicingNodes(path, true); err == nil {
			for _, n := range sn {
				for _, r := range []*big.Rat{n.Loss, n.Compromise} {
					if r.Sign() < 0 || r.Cmp(big.NewRat(1, 1)) > 0 {
						t.Fatalf("accepted probability %s", r.RatString())
					}
				}
			}
		}
		if len(pf.Nodes) <= 32 {
			pf.placement(path) // must not panic
		}
		again, err := json.Marshal(pf)
		if err != nil {
			t.Fatal(err)
		}
		pf2, err := parsePlacementFile(path, again)
		if err != nil || !reflect.DeepEqual(pf, pf2) {
			t.Fatalf("re-encoded file decodes differently: %v\n%s", err, again)
		}
	})
}

// FuzzParseTarget: a loss target that parses is a probability in [0, 1]
// whose denominator the planner accepts.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"2^-64", "2^-0", "2^-32767", "2^-32768", "2^-064", "1/1000", "0.000001", "1", "2^64", "3/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseTarget(s)
		if err != nil {
			return
		}
		if r.Sign() < 0 || r.Cmp(big.NewRat(1, 1)) > 0 || r.Denom().BitLen() > slicing.MaxTargetBits || r.Num().BitLen() > slicing.MaxTargetBits {
			t.Fatalf("parseTarget(%q) = %s", s, r.RatString())
		}
	})
}
