package mask_test

import (
	"fmt"

	"github.com/maskshare/maskshare/mask"
)

// Three parties each add their own mask to their data; the masks cancel in
// the sum, so the coordinator learns the total and nothing else.
func ExampleZeroSum() {
	shares, err := mask.ZeroSum(3)
	if err != nil {
		panic(err)
	}
	d := mask.Domain{Purpose: mask.PurposeMask, Column: 0}
	total := make([]uint64, 1000)
	nonZero := 0
	for _, s := range shares {
		m := make([]uint64, len(total))
		s.Apply(m, d)
		if m[0] != 0 {
			nonZero++
		}
		mask.Add(total, m)
	}
	fmt.Println("masks with a non-zero first element:", nonZero)
	fmt.Println("first elements of the sum:", total[:5])
	fmt.Println("sum of all elements:", mask.Sum(total))
	// Output:
	// masks with a non-zero first element: 3
	// first elements of the sum: [0 0 0 0 0]
	// sum of all elements: 0
}
