package slicing

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// randProb draws a rational in [0, 1] with a small denominator, 0 and 1
// included now and then, so that nodes differ.
func randProb(rng *rand.Rand) *big.Rat {
	switch rng.IntN(10) {
	case 0:
		return new(big.Rat)
	case 1:
		return big.NewRat(1, 1)
	}
	den := 1 + rng.Int64N(30)
	return big.NewRat(rng.Int64N(den+1), den)
}

func randPlacement(rng *rand.Rand, maxNodes, maxWeight int) *Placement {
	for {
		n := 1 + rng.IntN(maxNodes)
		p := &Placement{}
		for i := range n {
			kind := Client
			if rng.IntN(4) == 0 {
				kind = Institution
			}
			p.Nodes = append(p.Nodes, Node{
				Name: fmt.Sprint("n", i), Kind: kind, Slices: rng.IntN(maxWeight + 1),
				Loss: randProb(rng), Compromise: randProb(rng),
			})
		}
		if total := p.Total(); total > 0 {
			p.Threshold = 1 + rng.IntN(total)
			return p
		}
	}
}

// bruteOdds enumerates every outcome of every node: 2^n for each figure.
func bruteOdds(p *Placement) (lost, comp, coll *big.Rat) {
	lost, comp, coll = new(big.Rat), new(big.Rat), new(big.Rat)
	n := len(p.Nodes)
	inst := p.InstitutionSlices()
	survive := make([]*big.Rat, n)
	notComp := make([]*big.Rat, n)
	for i, nd := range p.Nodes {
		survive[i] = new(big.Rat).Sub(one, nd.Loss)
		notComp[i] = new(big.Rat).Sub(one, nd.Compromise)
	}
	for m := 0; m < 1<<n; m++ {
		pl, pc, pcc := big.NewRat(1, 1), big.NewRat(1, 1), big.NewRat(1, 1)
		surv, got, gotColl := 0, 0, inst
		for i, nd := range p.Nodes {
			in := m&(1<<i) != 0
			if in { // bit i: node i survives, and node i is broken into
				pl.Mul(pl, survive[i])
				pc.Mul(pc, nd.Compromise)
				surv += nd.Slices
				got += nd.Slices
			} else {
				pl.Mul(pl, nd.Loss)
				pc.Mul(pc, notComp[i])
			}
			if nd.Kind == Client {
				if in {
					pcc.Mul(pcc, nd.Compromise)
					gotColl += nd.Slices
				} else {
					pcc.Mul(pcc, notComp[i])
				}
			} else if in {
				pcc.SetInt64(0) // institutions are not drawn: count each client outcome once
			}
		}
		if surv < p.Threshold {
			lost.Add(lost, pl)
		}
		if got >= p.Threshold {
			comp.Add(comp, pc)
		}
		if gotColl >= p.Threshold {
			coll.Add(coll, pcc)
		}
	}
	return lost, comp, coll
}

func TestOddsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	for iter := range 250 {
		p := randPlacement(rng, 12, 4)
		o, err := p.Odds()
		if err != nil {
			t.Fatal(err)
		}
		lost, comp, coll := bruteOdds(p)
		if o.Lost.Cmp(lost) != 0 || o.Compromised.Cmp(comp) != 0 || o.CompromisedWithInstitutions.Cmp(coll) != 0 {
			t.Fatalf("case %d (t=%d, %d nodes): DP lost %s comp %s coll %s; brute force %s %s %s",
				iter, p.Threshold, len(p.Nodes), o.Lost, o.Compromised, o.CompromisedWithInstitutions, lost, comp, coll)
		}
		if o.InstitutionsBelow != (p.InstitutionSlices() < p.Threshold) || o.Slices != p.Total() {
			t.Fatalf("case %d: rule or total wrong: %+v", iter, o)
		}
	}
}

// Losing fewer than t of N slices' worth of survivors is the same event as
// losing N−t+1 or more: the loss DP and the compromise DP must agree.
func TestOddsLossIsComplementOfCompromise(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 2))
	for range 200 {
		p := randPlacement(rng, 40, 6)
		q := &Placement{Threshold: p.Total() - p.Threshold + 1}
		for _, nd := range p.Nodes {
			nd.Compromise = nd.Loss
			q.Nodes = append(q.Nodes, nd)
		}
		a, err := p.Odds()
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.Odds()
		if err != nil {
			t.Fatal(err)
		}
		if a.Lost.Cmp(b.Compromised) != 0 {
			t.Fatalf("P(lost) = %s but P(≥ N−t+1 lost) = %s", a.Lost, b.Compromised)
		}
	}
}

func TestOddsMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 3))
	for range 200 {
		p := randPlacement(rng, 30, 5)
		o, _ := p.Odds()
		// One more client slice: P(lost) cannot rise, P(compromised) cannot fall.
		more := &Placement{Threshold: p.Threshold, Nodes: append(append([]Node(nil), p.Nodes...),
			Node{Name: "extra", Kind: Client, Slices: 1 + rng.IntN(3), Loss: randProb(rng), Compromise: randProb(rng)})}
		om, err := more.Odds()
		if err != nil {
			t.Fatal(err)
		}
		if om.Lost.Cmp(o.Lost) > 0 || om.Compromised.Cmp(o.Compromised) < 0 {
			t.Fatalf("adding a node: lost %s → %s, compromised %s → %s", o.Lost, om.Lost, o.Compromised, om.Compromised)
		}
		if p.Threshold < p.Total() {
			up := &Placement{Threshold: p.Threshold + 1, Nodes: p.Nodes}
			ou, _ := up.Odds()
			if ou.Lost.Cmp(o.Lost) < 0 || ou.Compromised.Cmp(o.Compromised) > 0 {
				t.Fatalf("raising t: lost %s → %s, compromised %s → %s", o.Lost, ou.Lost, o.Compromised, ou.Compromised)
			}
		}
	}
}

// A binomial case checked by hand: 4 clients of one slice each, loss 1/2,
// t = 2: lost when 0 or 1 survive, (1 + 4)/16.
func TestOddsBinomial(t *testing.T) {
	p := &Placement{Threshold: 2}
	for i := range 4 {
		p.Nodes = append(p.Nodes, Node{Name: fmt.Sprint(i), Kind: Client, Slices: 1, Loss: big.NewRat(1, 2), Compromise: big.NewRat(1, 10)})
	}
	o, err := p.Odds()
	if err != nil {
		t.Fatal(err)
	}
	// Compromised: 1 − 0.9^4 − 4·0.1·0.9^3 = 523/10000.
	if o.Lost.Cmp(big.NewRat(5, 16)) != 0 || o.Compromised.Cmp(big.NewRat(523, 10000)) != 0 {
		t.Fatalf("lost %s compromised %s", o.Lost, o.Compromised)
	}
}

func TestOddsInstitutions(t *testing.T) {
	half := big.NewRat(1, 2)
	p := &Placement{Threshold: 5, Nodes: []Node{
		{Name: "A", Kind: Institution, Slices: 2, Loss: half, Compromise: new(big.Rat)},
		{Name: "B", Kind: Institution, Slices: 2, Loss: half, Compromise: new(big.Rat)},
		{Name: "c", Kind: Client, Slices: 1, Loss: half, Compromise: big.NewRat(1, 3)},
		{Name: "d", Kind: Client, Slices: 1, Loss: half, Compromise: new(big.Rat)},
	}}
	o, err := p.Odds()
	if err != nil {
		t.Fatal(err)
	}
	// Colluding institutions have 4 of 5: they need c (1/3) or d (never).
	if !o.InstitutionsBelow || o.InstitutionSlices != 4 || o.CompromisedWithInstitutions.Cmp(big.NewRat(1, 3)) != 0 {
		t.Fatalf("%+v", o)
	}
	if o.Compromised.Sign() != 0 {
		t.Fatalf("institutions never broken into, yet compromised %s", o.Compromised)
	}
	p.Threshold = 4
	o, _ = p.Odds()
	if o.InstitutionsBelow || o.CompromisedWithInstitutions.Cmp(one) != 0 {
		t.Fatalf("institutions hold t, yet %+v", o)
	}
}

func TestValidate(t *testing.T) {
	half := big.NewRat(1, 2)
	ok := func() *Placement {
		return &Placement{Threshold: 2, Nodes: []Node{
			{Name: "a", Kind: Client, Slices: 1, Loss: half, Compromise: half},
			{Name: "b", Kind: Institution, Slices: 1, Loss: half, Compromise: half},
		}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	huge := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), MaxProbabilityBits+1))
	cases := []struct {
		name string
		edit func(p *Placement)
		want error
	}{
		{"no nodes", func(p *Placement) { p.Nodes = nil }, ErrTooLarge},
		{"t zero", func(p *Placement) { p.Threshold = 0 }, ErrThreshold},
		{"t above N", func(p *Placement) { p.Threshold = 3 }, ErrThreshold},
		{"negative slices", func(p *Placement) { p.Nodes[0].Slices = -1 }, ErrNode},
		{"too many slices", func(p *Placement) { p.Nodes[0].Slices = MaxNodeSlices + 1 }, ErrNode},
		{"kind zero", func(p *Placement) { p.Nodes[0].Kind = 0 }, ErrNode},
		{"same name", func(p *Placement) { p.Nodes[1].Name = "a" }, ErrNode},
		{"empty name", func(p *Placement) { p.Nodes[1].Name = "" }, ErrNode},
		{"nil loss", func(p *Placement) { p.Nodes[0].Loss = nil }, ErrProbability},
		{"loss above 1", func(p *Placement) { p.Nodes[0].Loss = big.NewRat(3, 2) }, ErrProbability},
		{"negative compromise", func(p *Placement) { p.Nodes[1].Compromise = big.NewRat(-1, 2) }, ErrProbability},
		{"huge denominator", func(p *Placement) { p.Nodes[1].Compromise = huge }, ErrProbability},
		{"too many nodes", func(p *Placement) {
			for i := range MaxNodes {
				p.Nodes = append(p.Nodes, Node{Name: fmt.Sprint("x", i), Kind: Client, Loss: half, Compromise: half})
			}
		}, ErrTooLarge},
		{"too many slices in all", func(p *Placement) {
			for i := range MaxSlices/MaxNodeSlices + 1 {
				p.Nodes = append(p.Nodes, Node{Name: fmt.Sprint("x", i), Kind: Client, Slices: MaxNodeSlices, Loss: half, Compromise: half})
			}
		}, ErrTooLarge},
	}
	for _, c := range cases {
		p := ok()
		c.edit(p)
		err := p.Validate()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if _, err2 := p.Odds(); !errors.Is(err2, c.want) {
			t.Errorf("%s: Odds got %v", c.name, err2)
		}
	}
}

func TestParseProbability(t *testing.T) {
	good := map[string]*big.Rat{
		"1/2": big.NewRat(1, 2), "0.001": big.NewRat(1, 1000), "0": new(big.Rat), "1": big.NewRat(1, 1),
		"3/3": big.NewRat(1, 1), "0/7": new(big.Rat), "0.5": big.NewRat(1, 2), "007/0100": big.NewRat(7, 100),
	}
	for s, want := range good {
		r, err := ParseProbability(s)
		if err != nil || r.Cmp(want) != 0 {
			t.Errorf("%q: %v %v", s, r, err)
		}
	}
	for _, s := range []string{"", "1/0", "3/2", "1.5", "-1/2", "+0.5", "1e-3", ".5", "5.", "1/2/3", "0x1", " 1/2", "1/2.0", "1..2",
		"0." + string(make([]byte, MaxProbabilityLen))} {
		if r, err := ParseProbability(s); !errors.Is(err, ErrProbability) {
			t.Errorf("%q: got %v, %v", s, r, err)
		}
	}
}

func FuzzParseProbability(f *testing.F) {
	for _, s := range []string{"1/2", "0.001", "0", "1", "1/0", "1e9", "0.", "99/100", "3/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseProbability(s)
		if err != nil {
			if !errors.Is(err, ErrProbability) {
				t.Fatalf("error %v does not wrap ErrProbability", err)
			}
			return
		}
		if r.Sign() < 0 || r.Cmp(one) > 0 {
			t.Fatalf("%q gave %s outside [0, 1]", s, r)
		}
		back, err := ParseProbability(r.RatString())
		if err != nil || back.Cmp(r) != 0 {
			t.Fatalf("%q → %s does not read back: %v", s, r.RatString(), err)
		}
	})
}

func TestLog2(t *testing.T) {
	x := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 194))
	if got := Pow2(x); got != "2^-194.0" {
		t.Fatalf("Pow2(2^-194) = %s", got)
	}
	tiny := new(big.Rat).SetFrac(big.NewInt(3), new(big.Int).Lsh(big.NewInt(1), 5000))
	if got, want := Log2(tiny), math.Log2(3)-5000; math.Abs(got-want) > 1e-9 {
		t.Fatalf("Log2(3·2^-5000) = %v, want %v", got, want)
	}
	if Float(big.NewRat(1, 4)) != 0.25 || Pow2(new(big.Rat)) != "0" || Pow2(big.NewRat(1, 1)) != "1" || !math.IsInf(Log2(new(big.Rat)), -1) {
		t.Fatal("edge cases of Float, Pow2, Log2")
	}
}
