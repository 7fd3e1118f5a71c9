package slicing

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"testing"
)

func randReplicated(rng *rand.Rand, maxNodes, maxSlices int) *Replicated {
	r := &Replicated{Slices: 1 + rng.IntN(maxSlices)}
	r.Threshold = 1 + rng.IntN(r.Slices)
	for i := range 1 + rng.IntN(maxNodes) {
		kind := Client
		if rng.IntN(4) == 0 {
			kind = Institution
		}
		var holds []int
		for s := range r.Slices {
			if rng.IntN(3) == 0 {
				holds = append(holds, s)
			}
		}
		r.Nodes = append(r.Nodes, Replica{Name: fmt.Sprint("n", i), Kind: kind, Holds: holds, Loss: randProb(rng), Compromise: randProb(rng)})
	}
	return r
}

// bruteReplicated enumerates every outcome of every node.
func bruteReplicated(r *Replicated) (lost, comp, coll *big.Rat) {
	lost, comp, coll = new(big.Rat), new(big.Rat), new(big.Rat)
	n := len(r.Nodes)
	masks := make([]uint32, n)
	var inst uint32
	for i, nd := range r.Nodes {
		for _, s := range nd.Holds {
			masks[i] |= 1 << s
		}
		if nd.Kind == Institution {
			inst |= masks[i]
		}
	}
	for m := 0; m < 1<<n; m++ {
		pl, pc, pcc := big.NewRat(1, 1), big.NewRat(1, 1), big.NewRat(1, 1)
		var surv, got, gotColl uint32 = 0, 0, inst
		clientsOnly := true
		for i, nd := range r.Nodes {
			if m&(1<<i) != 0 {
				pl.Mul(pl, new(big.Rat).Sub(one, nd.Loss))
				pc.Mul(pc, nd.Compromise)
				surv |= masks[i]
				got |= masks[i]
				if nd.Kind == Client {
					pcc.Mul(pcc, nd.Compromise)
					gotColl |= masks[i]
				} else {
					clientsOnly = false
				}
			} else {
				pl.Mul(pl, nd.Loss)
				pc.Mul(pc, new(big.Rat).Sub(one, nd.Compromise))
				if nd.Kind == Client {
					pcc.Mul(pcc, new(big.Rat).Sub(one, nd.Compromise))
				}
			}
		}
		if bits.OnesCount32(surv) < r.Threshold {
			lost.Add(lost, pl)
		}
		if bits.OnesCount32(got) >= r.Threshold {
			comp.Add(comp, pc)
		}
		if clientsOnly && bits.OnesCount32(gotColl) >= r.Threshold {
			coll.Add(coll, pcc)
		}
	}
	return lost, comp, coll
}

func TestReplicatedMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	for iter := range 200 {
		r := randReplicated(rng, 11, 7)
		o, err := r.Odds()
		if err != nil {
			t.Fatal(err)
		}
		lost, comp, coll := bruteReplicated(r)
		if o.Lost.Cmp(lost) != 0 || o.Compromised.Cmp(comp) != 0 || o.CompromisedWithInstitutions.Cmp(coll) != 0 {
			t.Fatalf("case %d: DP %s %s %s, brute force %s %s %s", iter, o.Lost, o.Compromised, o.CompromisedWithInstitutions, lost, comp, coll)
		}
	}
}

// When no slice has two copies, a replicated layout is a placement of
// distinct slices: both calculators must give the same figures.
func TestReplicatedWithoutCopiesIsPlacement(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2))
	for range 100 {
		p := randPlacement(rng, 8, 2)
		if p.Total() > MaxReplicatedSlices {
			continue
		}
		r := &Replicated{Slices: p.Total(), Threshold: p.Threshold}
		next := 0
		for _, nd := range p.Nodes {
			rep := Replica{Name: nd.Name, Kind: nd.Kind, Loss: nd.Loss, Compromise: nd.Compromise}
			for range nd.Slices {
				rep.Holds = append(rep.Holds, next)
				next++
			}
			r.Nodes = append(r.Nodes, rep)
		}
		a, err := p.Odds()
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Odds()
		if err != nil {
			t.Fatal(err)
		}
		if a.Lost.Cmp(b.Lost) != 0 || a.Compromised.Cmp(b.Compromised) != 0 ||
			a.CompromisedWithInstitutions.Cmp(b.CompromisedWithInstitutions) != 0 || a.InstitutionSlices != b.InstitutionSlices {
			t.Fatalf("placement %+v\nreplicated %+v", a, b)
		}
	}
}

func TestReplicatedValidate(t *testing.T) {
	half := big.NewRat(1, 2)
	ok := func() *Replicated {
		return &Replicated{Slices: 3, Threshold: 3, Nodes: []Replica{
			{Name: "a", Kind: Institution, Holds: []int{0, 1}, Loss: half, Compromise: half},
			{Name: "b", Kind: Client, Holds: []int{2}, Loss: half, Compromise: half},
		}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(r *Replicated)
		want error
	}{
		{"no slices", func(r *Replicated) { r.Slices = 0 }, ErrTooLarge},
		{"too many slices", func(r *Replicated) { r.Slices = MaxReplicatedSlices + 1 }, ErrTooLarge},
		{"t above slices", func(r *Replicated) { r.Threshold = 4 }, ErrThreshold},
		{"no nodes", func(r *Replicated) { r.Nodes = nil }, ErrTooLarge},
		{"slice out of range", func(r *Replicated) { r.Nodes[1].Holds = []int{3} }, ErrNode},
		{"negative slice", func(r *Replicated) { r.Nodes[1].Holds = []int{-1} }, ErrNode},
		{"slice twice", func(r *Replicated) { r.Nodes[0].Holds = []int{1, 1} }, ErrNode},
		{"same name", func(r *Replicated) { r.Nodes[1].Name = "a" }, ErrNode},
		{"bad loss", func(r *Replicated) { r.Nodes[1].Loss = big.NewRat(2, 1) }, ErrProbability},
	}
	for _, c := range cases {
		r := ok()
		c.edit(r)
		if _, err := r.Odds(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSeedLayout(t *testing.T) {
	half := big.NewRat(1, 2)
	for _, clients := range []int{16, 208} {
		r, err := SeedLayout(clients, half, big.NewRat(1, 100))
		if err != nil {
			t.Fatal(err)
		}
		copies := make([]int, r.Slices)
		for _, nd := range r.Nodes {
			if nd.Kind == Client && len(nd.Holds) >= r.Threshold {
				t.Fatalf("%s holds the whole key", nd.Name)
			}
			for _, s := range nd.Holds {
				copies[s]++
			}
		}
		o, err := r.Odds()
		if err != nil {
			t.Fatal(err)
		}
		if o.InstitutionSlices != 8 || !o.InstitutionsBelow || r.Threshold != 10 {
			t.Fatalf("institutions: %+v", o)
		}
		// The key is lost only if some slice loses every copy, so P(lost)
		// lies between the likeliest such event and the union bound.
		minCopies, union := len(r.Nodes), new(big.Rat)
		for _, c := range copies {
			minCopies = min(minCopies, c)
			union.Add(union, new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), uint(c))))
		}
		low := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), uint(minCopies)))
		if o.Lost.Cmp(low) < 0 || o.Lost.Cmp(union) > 0 {
			t.Fatalf("%d clients: lost %s outside [%s, %s]", clients, Pow2(o.Lost), Pow2(low), Pow2(union))
		}
	}
	if _, err := SeedLayout(0, half, half); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
}
