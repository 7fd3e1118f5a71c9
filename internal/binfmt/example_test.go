package binfmt_test

import (
	"fmt"

	"github.com/maskshare/maskshare/internal/binfmt"
)

// A decoder reads every field, then checks once: any short read or
// over-long length anywhere makes Done false.
func ExampleReader() {
	msg := binfmt.AppendString8([]byte{1}, "alice")
	msg = binfmt.AppendBytes32(msg, []byte("payload"))

	r := binfmt.NewReader(msg)
	version, user, payload := r.U8(), r.String8(), r.Bytes32(64)
	fmt.Println(version, user, string(payload), r.Done())

	r = binfmt.NewReader(msg)
	version, user, payload = r.U8(), r.String8(), r.Bytes32(4)
	fmt.Println(version, user, payload == nil, r.Done(), r.Err())
	// Output:
	// 1 alice payload true
	// 1 alice true false binfmt: length over the limit
}
