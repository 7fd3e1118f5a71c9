package kkrt_test

import (
	"fmt"

	"github.com/maskshare/maskshare/internal/kkrt"
)

// A two-party PSI: the receiver learns which of its identifiers the
// sender holds by comparing its OPRF values with the sender's candidates.
func Example() {
	var session [32]byte // unique per session in real use
	var key [32]byte     // the element key: the same for both parties
	elements := func(ids []string) []kkrt.Element {
		elems := make([]kkrt.Element, len(ids))
		for i, id := range ids {
			elems[i] = kkrt.ElementOf(&key, []byte(id))
		}
		return elems
	}
	receiverSet := []string{"alice", "bob", "carol"}
	senderSet := []string{"bob", "dave", "carol"}

	sender, msg0, err := kkrt.NewSender(session, nil)
	if err != nil {
		panic(err)
	}
	receiver, msg1, err := kkrt.NewReceiver(session, elements(receiverSet), msg0, nil)
	if err != nil {
		panic(err)
	}
	if err := sender.Finish(msg1); err != nil {
		panic(err)
	}

	// The sender publishes its candidates; the receiver matches its values.
	published := make(map[kkrt.Value]bool)
	for _, e := range elements(senderSet) {
		cand, err := sender.Candidates(nil, e)
		if err != nil {
			panic(err)
		}
		for _, v := range cand {
			published[v] = true
		}
	}
	for i, o := range receiver.Outputs() {
		fmt.Println(receiverSet[i], published[o.Value])
	}
	// Output:
	// alice false
	// bob true
	// carol true
}
