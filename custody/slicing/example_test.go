package slicing_test

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/maskshare/maskshare/custody/slicing"
)

// Two institutions with one slice each and three clients with one slice
// each; any three of the five slices rebuild the key, so the institutions
// together (two) cannot. The odds are exact fractions.
func ExamplePlacement_Odds() {
	half, tenth := big.NewRat(1, 2), big.NewRat(1, 10)
	p := &slicing.Placement{Threshold: 3, Nodes: []slicing.Node{
		{Name: "bank", Kind: slicing.Institution, Slices: 1, Loss: big.NewRat(1, 100), Compromise: big.NewRat(1, 1000)},
		{Name: "notary", Kind: slicing.Institution, Slices: 1, Loss: big.NewRat(1, 100), Compromise: big.NewRat(1, 1000)},
		{Name: "phone", Kind: slicing.Client, Slices: 1, Loss: half, Compromise: tenth},
		{Name: "laptop", Kind: slicing.Client, Slices: 1, Loss: half, Compromise: tenth},
		{Name: "tablet", Kind: slicing.Client, Slices: 1, Loss: half, Compromise: tenth},
	}}
	o, err := p.Odds()
	if err != nil {
		panic(err)
	}
	fmt.Println("institutions below t:", o.InstitutionsBelow)
	fmt.Println("lost:", o.Lost.RatString())
	fmt.Println("compromised:", o.Compromised.RatString(), "=", slicing.Pow2(o.Compromised))
	fmt.Println("compromised if the institutions collude:", o.CompromisedWithInstitutions.RatString())
	// Output:
	// institutions below t: true
	// lost: 53/400
	// compromised: 131777/125000000 = 2^-9.9
	// compromised if the institutions collude: 271/1000
}

// The planner picks t and the slices for six clients who lose their phone
// half the time, so that the key is lost with probability at most 1/20.
func ExamplePlan() {
	var nodes []slicing.Node
	for _, name := range []string{"A", "B"} {
		nodes = append(nodes, slicing.Node{Name: name, Kind: slicing.Institution, Loss: big.NewRat(1, 1000), Compromise: big.NewRat(1, 1000)})
	}
	for i := range 6 {
		nodes = append(nodes, slicing.Node{Name: fmt.Sprint("client", i), Kind: slicing.Client, Loss: big.NewRat(1, 2), Compromise: big.NewRat(1, 50)})
	}
	p, o, err := slicing.Plan(nodes, &slicing.Target{Loss: big.NewRat(1, 20), MaxInstitutionSlices: 3})
	if err != nil {
		panic(err)
	}
	var held []string
	for _, nd := range p.Nodes {
		held = append(held, fmt.Sprintf("%s:%d", nd.Name, nd.Slices))
	}
	fmt.Println(strings.Join(held, " "))
	fmt.Printf("t = %d of N = %d, lost %s, compromised %s\n", o.Threshold, o.Slices, slicing.Prob(o.Lost), slicing.Prob(o.Compromised))
	// Output:
	// A:3 B:3 client0:1 client1:1 client2:1 client3:1 client4:1 client5:0
	// t = 7 of N = 11, lost 0.0328, compromised 2^-23.3
}

// ParseProbability reads fractions and decimals exactly.
func ExampleParseProbability() {
	for _, s := range []string{"1/2", "0.001", "2/3"} {
		r, err := slicing.ParseProbability(s)
		fmt.Println(r.RatString(), err)
	}
	// Output:
	// 1/2 <nil>
	// 1/1000 <nil>
	// 2/3 <nil>
}
