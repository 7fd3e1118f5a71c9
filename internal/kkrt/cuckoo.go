package kkrt

import "math/rand/v2"

// cuckoo places elements into nbins bins, each element in one of its
// HashCount bins; there is no stash. It returns each element's bin, its
// OPRF instance. An element still homeless after maxKicks evictions is
// ErrCuckoo (see binsFor for how unlikely that is).
//
// Insertion is a random walk (evict the occupant of a random one of the
// element's bins, at most maxKicks times) driven by ChaCha8 seeded from
// the session, so placement is a deterministic function of the session
// and the inputs. Time and memory access depend on the elements; see the
// package comment.
func cuckoo(k *keys, elems []Element, nbins int) ([]int, error) {
	table := make([]int32, nbins)
	for i := range table {
		table[i] = -1
	}
	cand := make([][HashCount]int, len(elems))
	sc := new(scratch)
	for i := range elems {
		cand[i] = k.bins(&elems[i], nbins, sc)
	}
	walk := rand.New(rand.NewChaCha8(k.walk))
	for i := range elems {
		// A duplicate of an earlier element sits in one of its bins, since
		// every placed element always does.
		for _, b := range cand[i] {
			if t := table[b]; t >= 0 && elems[t] == elems[i] {
				return nil, ErrDuplicate
			}
		}
		cur := int32(i)
		placed := false
		for kick := 0; kick < maxKicks && !placed; kick++ {
			for _, b := range cand[cur] {
				if table[b] < 0 {
					table[b] = cur
					placed = true
					break
				}
			}
			if !placed {
				b := cand[cur][walk.IntN(HashCount)]
				cur, table[b] = table[b], cur
			}
		}
		if !placed {
			return nil, ErrCuckoo
		}
	}
	where := make([]int, len(elems))
	for b, t := range table {
		if t >= 0 {
			where[t] = b
		}
	}
	return where, nil
}
