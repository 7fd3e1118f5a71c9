package kkrt

import "math/rand/v2"

// cuckoo places elements into nbins bins (each element in one of its
// HashCount bins) plus at most stash stash slots. It returns, per
// element, its OPRF instance: a bin, or nbins+k for stash slot k.
//
// Insertion is a random walk (evict the occupant of a random one of the
// element's bins, at most maxKicks times) driven by ChaCha8 seeded from
// the session, so placement is a deterministic function of the session
// and the inputs. Time and memory access depend on the elements; see the
// package comment.
func cuckoo(k *keys, elems []elem, nbins, stashSize int) ([]int, error) {
	table := make([]int32, nbins)
	for i := range table {
		table[i] = -1
	}
	cand := make([][HashCount]int, len(elems))
	for i := range elems {
		cand[i] = k.bins(&elems[i], nbins)
	}
	var stash []int32
	walk := rand.New(rand.NewChaCha8(k.walk))
	for i := range elems {
		// A duplicate of an earlier element sits in one of its bins or in
		// the stash, since every placed element always does.
		for _, b := range cand[i] {
			if t := table[b]; t >= 0 && elems[t] == elems[i] {
				return nil, ErrDuplicate
			}
		}
		for _, t := range stash {
			if elems[t] == elems[i] {
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
			if len(stash) == stashSize {
				return nil, ErrCuckoo
			}
			stash = append(stash, cur)
		}
	}
	where := make([]int, len(elems))
	for b, t := range table {
		if t >= 0 {
			where[t] = b
		}
	}
	for s, t := range stash {
		where[t] = nbins + s
	}
	return where, nil
}
