package slicing

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// SeedRow compares, for one number of client nodes, the seed's layout with
// the placements Plan finds for two loss targets: the seed's own exact loss,
// and Target2.
type SeedRow struct {
	Clients int
	Seed    *Odds
	// MinCopies is the number of nodes holding the least-copied slice, and
	// Naive = loss^MinCopies the seed's way of estimating P(lost).
	MinCopies int
	Naive     *big.Rat
	// Ours meets the seed's loss; Ours2 meets the second target, or is nil
	// when no placement of the family can (Best2 is then the lowest loss).
	Ours, Ours2 *Placement
	OursOdds    *Odds
	Ours2Odds   *Odds
	Best2       *big.Rat
}

// SeedComparison computes the rows of the docs' comparison table: every node
// (institutions and clients) loses its slices with probability loss and is
// broken into with probability compromise; Plan runs with target
// {Loss: seed's P(lost)} and {Loss: target2}, the institutions free to hold
// 0 to 4 slices each (the seed gives them 4).
func SeedComparison(clients []int, loss, compromise, target2 *big.Rat) ([]SeedRow, error) {
	var rows []SeedRow
	for _, m := range clients {
		r, err := SeedLayout(m, loss, compromise)
		if err != nil {
			return nil, err
		}
		row := SeedRow{Clients: m, MinCopies: minCopies(r), Naive: big.NewRat(1, 1)}
		for range row.MinCopies {
			row.Naive.Mul(row.Naive, loss)
		}
		if row.Seed, err = r.Odds(); err != nil {
			return nil, err
		}
		nodes := SeedNodes(m, loss, compromise)
		row.Ours, row.OursOdds, err = Plan(nodes, &Target{Loss: row.Seed.Lost, MaxInstitutionSlices: SeedPerInstitution})
		if err != nil {
			return nil, err
		}
		row.Ours2, row.Ours2Odds, err = Plan(nodes, &Target{Loss: target2, MaxInstitutionSlices: SeedPerInstitution})
		var u *UnreachableError
		if errors.As(err, &u) {
			row.Best2 = u.Best
		} else if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func minCopies(r *Replicated) int {
	copies := make([]int, r.Slices)
	for _, nd := range r.Nodes {
		for _, s := range nd.Holds {
			copies[s]++
		}
	}
	return slices.Min(copies)
}

// SeedTable renders rows as the Markdown table of docs/CUSTODY.md.
func SeedTable(rows []SeedRow, target2 *big.Rat) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| clients | seed: naive estimate | seed: P(lost) | seed: P(compromised) | seed: P(compromised), institutions collude "+
		"| ours, P(lost) ≤ seed's: t of N (institutions) | P(lost) | P(compromised) | P(compromised), institutions collude "+
		"| ours, P(lost) ≤ %s: t of N (institutions) | P(lost) | P(compromised) | P(compromised), institutions collude |\n", Pow2(target2))
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |", r.Clients, Prob(r.Naive),
			Prob(r.Seed.Lost), Prob(r.Seed.Compromised), Prob(r.Seed.CompromisedWithInstitutions),
			shape(r.Ours), Prob(r.OursOdds.Lost), Prob(r.OursOdds.Compromised), Prob(r.OursOdds.CompromisedWithInstitutions))
		if r.Ours2 == nil {
			fmt.Fprintf(&b, " none (lowest P(lost) %s) | | | |\n", Prob(r.Best2))
			continue
		}
		fmt.Fprintf(&b, " %s | %s | %s | %s |\n", shape(r.Ours2),
			Prob(r.Ours2Odds.Lost), Prob(r.Ours2Odds.Compromised), Prob(r.Ours2Odds.CompromisedWithInstitutions))
	}
	return b.String()
}

// shape is "t of N (a+b)", a and b the institutions' slices.
func shape(p *Placement) string {
	var inst []string
	for _, nd := range p.Nodes {
		if nd.Kind == Institution {
			inst = append(inst, fmt.Sprint(nd.Slices))
		}
	}
	return fmt.Sprintf("%d of %d (%s)", p.Threshold, p.Total(), strings.Join(inst, "+"))
}

// Prob renders a probability for people: three significant digits down to
// 0.001, a power of two below ("2^-194.0").
func Prob(r *big.Rat) string {
	if r.Sign() != 0 && r.Cmp(big.NewRat(1, 1000)) < 0 {
		return Pow2(r)
	}
	return fmt.Sprintf("%.3g", Float(r))
}
