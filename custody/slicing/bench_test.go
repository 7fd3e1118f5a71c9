package slicing

import (
	"math/big"
	"testing"
)

// seedPlacement is the seed's nodes (208 clients, 2 institutions, loss 1/2,
// compromise 1/100) with one slice on every client and 4 per institution,
// t = 9: the largest case of the docs' table.
func seedPlacement() *Placement {
	p := &Placement{Threshold: 9, Nodes: SeedNodes(208, big.NewRat(1, 2), big.NewRat(1, 100))}
	for i := range p.Nodes {
		p.Nodes[i].Slices = 1
		if p.Nodes[i].Kind == Institution {
			p.Nodes[i].Slices = SeedPerInstitution
		}
	}
	return p
}

func BenchmarkOdds208(b *testing.B) {
	p := seedPlacement()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Odds(); err != nil {
			b.Fatal(err)
		}
	}
}

// Odds with t = N/2 = 108 and per-node probabilities that all differ, so
// that the common denominator grows by about 20 bits a node.
func BenchmarkOdds208Mixed(b *testing.B) {
	p := seedPlacement()
	for i := range p.Nodes {
		p.Nodes[i].Loss = big.NewRat(int64(i+1), int64(2*i+3))
		p.Nodes[i].Compromise = big.NewRat(1, int64(100+i))
	}
	p.Threshold = p.Total() / 2
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Odds(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlanSeed208(b *testing.B) {
	nodes := SeedNodes(208, big.NewRat(1, 2), big.NewRat(1, 100))
	target := &Target{Loss: docsTarget2, MaxInstitutionSlices: SeedPerInstitution}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Plan(nodes, target); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplicatedSeed208(b *testing.B) {
	r, err := SeedLayout(208, big.NewRat(1, 2), big.NewRat(1, 100))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Odds(); err != nil {
			b.Fatal(err)
		}
	}
}
