package kkrt_test

import (
	"fmt"

	"github.com/maskshare/maskshare/internal/kkrt"
)

// A two-party PSI: the receiver learns which of its identifiers the
// sender holds by comparing its OPRF values with the sender's candidates.
func Example() {
	var session [32]byte // unique per session in real use
	receiverSet := [][]byte{[]byte("alice"), []byte("bob"), []byte("carol")}
	senderSet := [][]byte{[]byte("bob"), []byte("dave"), []byte("carol")}

	sender, msg0, err := kkrt.NewSender(session, nil)
	if err != nil {
		panic(err)
	}
	receiver, msg1, err := kkrt.NewReceiver(session, receiverSet, msg0, nil)
	if err != nil {
		panic(err)
	}
	if err := sender.Finish(msg1); err != nil {
		panic(err)
	}

	// The sender publishes its candidates; the receiver matches its values.
	published := make(map[kkrt.Value]bool)
	for _, y := range senderSet {
		cand, err := sender.Candidates(nil, y)
		if err != nil {
			panic(err)
		}
		for _, v := range cand {
			published[v] = true
		}
	}
	for i, o := range receiver.Outputs() {
		fmt.Println(string(receiverSet[i]), published[o.Value])
	}
	// Output:
	// alice false
	// bob true
	// carol true
}
