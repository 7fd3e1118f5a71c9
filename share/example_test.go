package share_test

import (
	"fmt"

	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/share"
)

// Party 0 of 3 splits its column of figures: it keeps x minus two PRG parts
// and sends parties 1 and 2 only the seeds. Adding the parts back, as the
// receivers would, gives x again.
func ExampleSplit() {
	minus7 := int64(-7)
	x := []uint64{100, 250, uint64(minus7)} // signed values in two's complement
	var session [32]byte
	kept := [][]uint64{append([]uint64(nil), x...)}
	seeds, err := share.Split(kept, 3, 0, session)
	if err != nil {
		panic(err)
	}
	fmt.Println("kept part equals x:", kept[0][0] == x[0])

	total := append([]uint64(nil), kept[0]...)
	for j := 1; j < 3; j++ {
		part := make([]uint64, len(x))
		mask.Expand(part, seeds[j], mask.Domain{Session: session, Purpose: mask.PurposePart, Column: 0})
		mask.Add(total, part)
	}
	fmt.Println(total[0], total[1], int64(total[2]))
	// Output:
	// kept part equals x: false
	// 100 250 -7
}
