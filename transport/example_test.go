package transport_test

import (
	"context"
	"fmt"

	"github.com/maskshare/maskshare/transport"
)

func ExamplePipe() {
	ctx := context.Background()
	party, coordinator := transport.Pipe()
	defer party.Close()

	if err := party.Send(ctx, []byte("hello")); err != nil {
		panic(err)
	}
	msg, err := coordinator.Recv(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(msg))
	// Output: hello
}

func ExampleMetered() {
	ctx := context.Background()
	a, b := transport.Pipe()
	ma := transport.Metered(a)
	_ = ma.Send(ctx, []byte("hello"))
	_, _ = b.Recv(ctx)
	fmt.Printf("%+v\n", ma.Stats())
	// Output: {MsgsSent:1 MsgsRecv:0 BytesSent:5 BytesRecv:0}
}
