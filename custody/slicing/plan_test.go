package slicing

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
)

func randNodes(rng *rand.Rand, institutions, clients int, same bool) []Node {
	var nodes []Node
	l, c := randProb(rng), randProb(rng)
	for i := range institutions + clients {
		kind := Client
		if i < institutions {
			kind = Institution
		}
		if !same || kind == Institution {
			l, c = randProb(rng), randProb(rng)
		}
		nodes = append(nodes, Node{Name: fmt.Sprint("n", i), Kind: kind, Loss: l, Compromise: c})
	}
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	return nodes
}

// better orders by P(compromised), then slices, then P(lost): Plan's order.
func betterOdds(a, b *Odds) bool {
	if d := a.Compromised.Cmp(b.Compromised); d != 0 {
		return d < 0
	}
	if a.Slices != b.Slices {
		return a.Slices < b.Slices
	}
	return a.Lost.Cmp(b.Lost) < 0
}

// brutePlan tries every placement with institution weights in [lo, hi],
// every t above the institutions' total and every client assignment that
// clientSets yields (weights 0 or 1), scoring each with Placement.Odds.
func brutePlan(nodes []Node, target *big.Rat, lo, hi int, clientSets func(clients []int) [][]int) (best *Odds, bestLoss *big.Rat) {
	var inst, clients []int
	for i, nd := range nodes {
		if nd.Kind == Institution {
			inst = append(inst, i)
		} else {
			clients = append(clients, i)
		}
	}
	bestLoss = big.NewRat(1, 1)
	w := make([]int, len(inst))
	var rec func(j int)
	rec = func(j int) {
		if j < len(inst) {
			for x := lo; x <= hi; x++ {
				w[j] = x
				rec(j + 1)
			}
			return
		}
		sum := 0
		for _, x := range w {
			sum += x
		}
		for _, set := range clientSets(clients) {
			p := &Placement{Nodes: append([]Node(nil), nodes...)}
			for j, i := range inst {
				p.Nodes[i].Slices = w[j]
			}
			for _, i := range set {
				p.Nodes[i].Slices = 1
			}
			for t := sum + 1; t <= p.Total(); t++ {
				p.Threshold = t
				o, err := p.Odds()
				if err != nil {
					panic(err)
				}
				if o.Lost.Cmp(bestLoss) < 0 {
					bestLoss = o.Lost
				}
				if o.Lost.Cmp(target) <= 0 && (best == nil || betterOdds(o, best)) {
					best = o
				}
			}
		}
	}
	rec(0)
	return best, bestLoss
}

func checkPlan(t *testing.T, nodes []Node, target *Target, best *Odds, bestLoss *big.Rat) {
	t.Helper()
	p, o, err := Plan(nodes, target)
	if best == nil {
		var u *UnreachableError
		if !errors.As(err, &u) || !errors.Is(err, ErrUnreachable) {
			t.Fatalf("brute force finds nothing, Plan gives %v %v", o, err)
		}
		if u.Best.Cmp(bestLoss) != 0 {
			t.Fatalf("lowest loss %s, brute force %s", u.Best, bestLoss)
		}
		return
	}
	if err != nil {
		t.Fatalf("brute force finds t=%d N=%d, Plan: %v", best.Threshold, best.Slices, err)
	}
	if o.Compromised.Cmp(best.Compromised) != 0 || o.Slices != best.Slices || o.Lost.Cmp(best.Lost) != 0 {
		t.Fatalf("Plan: t=%d N=%d lost %s comp %s; brute force t=%d N=%d lost %s comp %s",
			o.Threshold, o.Slices, o.Lost, o.Compromised, best.Threshold, best.Slices, best.Lost, best.Compromised)
	}
	if !o.InstitutionsBelow || o.Lost.Cmp(target.Loss) > 0 {
		t.Fatalf("Plan breaks the rule or the target: %+v", o)
	}
	again, err := p.Odds()
	if err != nil || again.Compromised.Cmp(o.Compromised) != 0 || again.Lost.Cmp(o.Lost) != 0 {
		t.Fatalf("returned odds are not the placement's: %v", err)
	}
}

// prefixes are the family Plan searches: the first k clients of its ranking.
func prefixes(nodes []Node) func([]int) [][]int {
	return func(clients []int) [][]int {
		r := rankClients(nodes, clients)
		var out [][]int
		for k := range len(r) + 1 {
			out = append(out, r[:k])
		}
		return out
	}
}

// subsets are every 0/1 assignment of the clients.
func subsets(clients []int) [][]int {
	var out [][]int
	for m := 0; m < 1<<len(clients); m++ {
		var s []int
		for j, i := range clients {
			if m&(1<<j) != 0 {
				s = append(s, i)
			}
		}
		out = append(out, s)
	}
	return out
}

func TestPlanMatchesBruteForceOverFamily(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	for range 120 {
		nodes := randNodes(rng, rng.IntN(3), rng.IntN(7), false)
		if len(nodes) == 0 {
			continue
		}
		target := &Target{Loss: randProb(rng), MinInstitutionSlices: rng.IntN(2), MaxInstitutionSlices: 1 + rng.IntN(3)}
		best, bestLoss := brutePlan(nodes, target.Loss, target.MinInstitutionSlices, target.MaxInstitutionSlices, prefixes(nodes))
		checkPlan(t, nodes, target, best, bestLoss)
	}
}

// With identical clients, which ones get a slice does not matter, so Plan
// must be as good as the best of every 0/1 assignment of the clients.
func TestPlanIdenticalClientsOptimalOverSubsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for range 60 {
		nodes := randNodes(rng, rng.IntN(3), 1+rng.IntN(6), true)
		target := &Target{Loss: big.NewRat(1+rng.Int64N(20), 64), MaxInstitutionSlices: 1 + rng.IntN(3)}
		best, bestLoss := brutePlan(nodes, target.Loss, 0, target.MaxInstitutionSlices, subsets)
		checkPlan(t, nodes, target, best, bestLoss)
	}
}

func TestPlanUnreachable(t *testing.T) {
	half := big.NewRat(1, 2)
	nodes := SeedNodes(4, half, big.NewRat(1, 100))
	// Institution slices raise t past their total, so with every node alike
	// they cannot help: the lowest loss is t = 1 on the 4 clients, 2^-4.
	_, _, err := Plan(nodes, &Target{Loss: big.NewRat(1, 1000), MaxInstitutionSlices: 2})
	var u *UnreachableError
	if !errors.As(err, &u) || u.Best.Cmp(big.NewRat(1, 16)) != 0 {
		t.Fatalf("got %v", err)
	}
	// Only institutions: they must stay below t, so they can never rebuild it.
	_, _, err = Plan(nodes[:2], &Target{Loss: one})
	if !errors.As(err, &u) || u.Best.Cmp(one) != 0 {
		t.Fatalf("institutions only: %v", err)
	}
}

func TestPlanErrors(t *testing.T) {
	half := big.NewRat(1, 2)
	nodes := SeedNodes(3, half, half)
	cases := []struct {
		name   string
		nodes  []Node
		target *Target
		want   error
	}{
		{"nil target", nodes, nil, ErrTarget},
		{"nil loss", nodes, &Target{}, ErrTarget},
		{"loss above 1", nodes, &Target{Loss: big.NewRat(2, 1)}, ErrTarget},
		{"min above max", nodes, &Target{Loss: half, MinInstitutionSlices: 3, MaxInstitutionSlices: 2}, ErrTarget},
		{"negative min", nodes, &Target{Loss: half, MinInstitutionSlices: -1}, ErrTarget},
		{"no nodes", nil, &Target{Loss: half}, ErrTooLarge},
		{"too many vectors", append(SeedNodes(0, half, half), Node{Name: "C", Kind: Institution, Loss: half, Compromise: half},
			Node{Name: "D", Kind: Institution, Loss: half, Compromise: half}), &Target{Loss: half, MaxInstitutionSlices: 8}, ErrTooLarge},
		{"too many institutions", append(SeedNodes(0, half, half), Node{Name: "C", Kind: Institution, Loss: half, Compromise: half},
			Node{Name: "D", Kind: Institution, Loss: half, Compromise: half}, Node{Name: "E", Kind: Institution, Loss: half, Compromise: half},
			Node{Name: "F", Kind: Institution, Loss: half, Compromise: half}), &Target{Loss: half, MinInstitutionSlices: 1, MaxInstitutionSlices: 1}, ErrTooLarge},
		{"too much work", SeedNodes(500, half, half), &Target{Loss: half, MaxInstitutionSlices: 255}, ErrTooLarge},
		{"bad node", append(SeedNodes(1, half, half), Node{Name: "x", Kind: Client, Loss: half}), &Target{Loss: half}, ErrProbability},
	}
	for _, c := range cases {
		if _, _, err := Plan(c.nodes, c.target); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// On larger random inputs, where brute force is out of reach, the plan must
// still be valid, meet the target and keep the rule.
func TestPlanMeetsTarget(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 3))
	for range 20 {
		nodes := randNodes(rng, rng.IntN(4), 20+rng.IntN(60), false)
		target := &Target{Loss: big.NewRat(1, 1+rng.Int64N(1<<40)), MaxInstitutionSlices: 1 + rng.IntN(4)}
		p, o, err := Plan(nodes, target)
		if errors.Is(err, ErrUnreachable) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if !o.InstitutionsBelow || o.Lost.Cmp(target.Loss) > 0 {
			t.Fatalf("%+v", o)
		}
	}
}
