// Command cosign demonstrates escrowed co-signing with a log nobody can
// rewrite (SPEC.md §4.3, custody/cosign): a co-signing service runs as a
// separate process holding the organisation's key; two users enrol from
// their "phones" (a two-party DKG each, certified by the registration
// authority); Alice has a contract signed with the organisation's key
// after authorising it with her split key; a request is refused; the
// operator, with the service's data and keys but without Alice's phone,
// fails to put an authorisation in her name into the log; and a later
// dispute is settled offline from the exported log, the RA's certificate
// and the checkpoint Alice's phone kept.
//
//	go run ./examples/cosign
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/maskshare/maskshare/custody"
	"github.com/maskshare/maskshare/custody/cosign"
	"github.com/maskshare/maskshare/frost"
	"github.com/maskshare/maskshare/internal/child"
	"github.com/maskshare/maskshare/transport"
)

// serviceEnv, when set, makes this program the service process, serving
// from the directory it names until its stdin closes.
const serviceEnv = "MASKSHARE_COSIGN_DEMO_SERVICE"

func main() {
	if dir := os.Getenv(serviceEnv); dir != "" {
		if err := serve(dir); err != nil {
			fmt.Fprintln(os.Stderr, "cosign service:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cosign demo:", err)
		os.Exit(1)
	}
}

func raOf(root string) (*cosign.RA, error) {
	ca, err := transport.LoadCA(filepath.Join(root, "ra.crt"), filepath.Join(root, "ra.key"))
	if err != nil {
		return nil, err
	}
	return &cosign.RA{CA: ca}, nil
}

// serve is the service process.
func serve(root string) error {
	ra, err := raOf(root)
	if err != nil {
		return err
	}
	id, err := transport.LoadIdentity(filepath.Join(root, "cosign.crt"), filepath.Join(root, "cosign.key"))
	if err != nil {
		return err
	}
	svc, err := cosign.OpenService(filepath.Join(root, "service"), &cosign.ServiceConfig{RA: ra, Admins: []string{"admin"}})
	if err != nil {
		return err
	}
	defer svc.Close()
	l, err := cosign.Listen("127.0.0.1:0", id, transport.Trust{Roots: ra.Roots()}, nil)
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", l.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	return svc.Serve(ctx, l)
}

func run() error {
	root, err := os.MkdirTemp("", "cosign-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx := context.Background()

	// The registration authority, and TLS identities for the service, the
	// two phones and an administrator (one CA for brevity).
	ca, err := transport.NewCA("acme-ra")
	if err != nil {
		return err
	}
	if err := ca.WriteFiles(filepath.Join(root, "ra.crt"), filepath.Join(root, "ra.key")); err != nil {
		return err
	}
	ra := &cosign.RA{CA: ca}
	ids := map[string]*transport.Identity{}
	for _, name := range []string{"cosign", "alice", "bob", "admin"} {
		if ids[name], err = ca.Issue(name); err != nil {
			return err
		}
	}
	if err := ids["cosign"].WriteFiles(filepath.Join(root, "cosign.crt"), filepath.Join(root, "cosign.key")); err != nil {
		return err
	}
	orgCert, err := cosign.InitService(filepath.Join(root, "service"), "acme", "acme.example/cosign-log", ra)
	if err != nil {
		return err
	}
	fmt.Printf("service initialised: organisation certificate %q from the RA; its key is sealed in the service's store\n", orgCert.Subject.CommonName)

	svc, err := startService(root)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			svc.stop()
		}
	}()
	dial := func(name string) (*cosign.Client, error) {
		c, err := cosign.Dial(ctx, ids[name], transport.Trust{Roots: ra.Roots()}, "cosign", svc.addr, nil)
		if err != nil {
			return nil, err
		}
		return cosign.NewClient(c), nil
	}
	alice, err := dial("alice")
	if err != nil {
		return err
	}
	bob, err := dial("bob")
	if err != nil {
		return err
	}
	admin, err := dial("admin")
	if err != nil {
		return err
	}

	// Enrolment: a two-party DKG between each phone and the service.
	aliceCred, _, err := alice.Enrol(ctx, "alice", nil)
	if err != nil {
		return err
	}
	bobCred, _, err := bob.Enrol(ctx, "bob", nil)
	if err != nil {
		return err
	}
	for _, c := range []*cosign.Credential{aliceCred, bobCred} {
		fmt.Printf("%s enrolled: 2-of-2 key shared by phone and service; certificate key %s\n", c.User, transport.FormatPublicKey(c.Cert.PublicKey.(ed25519.PublicKey)))
	}
	st, err := alice.Status(ctx)
	if err != nil {
		return err
	}
	aliceMon, err := cosign.NewMonitor(nil, st.VerifierKey)
	if err != nil {
		return err
	}

	// Use: Alice authorises a contract; the service signs it for acme.
	contract := []byte("acme buys 1000 widgets from globex at 3 EUR each")
	h := sha256.Sum256(contract)
	rc, err := alice.Sign(ctx, aliceCred, h, "supplier contract")
	if err != nil {
		return err
	}
	if !ed25519.Verify(orgCert.PublicKey.(ed25519.PublicKey), cosign.DocumentMessage(h), rc.OrgSignature) {
		return errors.New("the organisation's signature does not verify")
	}
	fmt.Printf("contract signed with acme's key after alice's authorisation (log entries %d, %d); crypto/ed25519 verifies it with acme's certificate\n", rc.Index, rc.Index+1)
	if _, err := aliceMon.Sync(ctx, alice); err != nil {
		return err
	}
	kept, keptSigned := aliceMon.Checkpoint()
	fmt.Printf("alice's phone keeps the checkpoint of size %d\n", kept.Size)

	// A refused request: Bob is revoked by an administrator, then tries.
	if _, err := admin.Revoke(ctx, "bob", "left the company"); err != nil {
		return err
	}
	if _, err := bob.Sign(ctx, bobCred, sha256.Sum256([]byte("bob's last order")), "order"); errors.Is(err, cosign.ErrRevoked) {
		fmt.Println("bob's request after his revocation is refused:", err)
	} else {
		return fmt.Errorf("bob's request after revocation: %v", err)
	}
	// And a replay of Alice's request id for another document.
	q := &cosign.Request{Org: "acme", Document: sha256.Sum256([]byte("acme buys 9000 widgets")), Purpose: "supplier contract"}
	auth := rc.Entries[0]
	old, _ := cosign.ParseRequest(auth.Payload)
	q.ID = old.ID
	if _, err := alice.SignRequest(ctx, aliceCred, q, time.Now()); errors.Is(err, cosign.ErrReplay) {
		fmt.Println("a replayed request id is refused:", err)
	} else {
		return fmt.Errorf("replayed request: %v", err)
	}

	// The operator tries to authorise a contract in Alice's name.
	if err := operatorForges(ctx, svc.addr, ra, aliceCred); err != nil {
		return err
	}
	svc.stop()
	stopped = true
	if err := operatorAppends(root, ra); err != nil {
		return err
	}

	// The dispute. Alice later denies the contract. An auditor gets the
	// log's export, the RA's certificate and the checkpoint Alice's phone
	// kept, and checks everything offline.
	export, err := exportLog(root)
	if err != nil {
		return err
	}
	users, err := cosign.ExportUserKeys(export, ra.Roots())
	if err != nil {
		return err
	}
	rep, err := cosign.VerifyExport(bytes.NewReader(export), st.VerifierKey, &cosign.VerifyConfig{Users: users, Old: [][]byte{keptSigned}})
	if err != nil {
		return fmt.Errorf("the log does not verify: %w", err)
	}
	fmt.Printf("offline verifier: %d entries, %d signed by users' keys (certified by the RA), %d by the service; extends alice's kept checkpoint\n",
		rep.Entries, rep.UserSigned, rep.ServiceSigned)
	e, err := findAuthorisation(export, "alice", h)
	if err != nil {
		return err
	}
	fmt.Printf("dispute settled: entry %d is alice's authorisation of the contract (sha256 %x…), signed by the key of her certificate at %s\n",
		e.index, h[:6], e.entry.Time.Format(time.RFC3339))
	if _, err := findAuthorisation(export, "alice", sha256.Sum256([]byte("acme sells its headquarters for 1 EUR"))); err == nil {
		return errors.New("the operator's forgery is in the log")
	}
	fmt.Println("and no authorisation by alice of the operator's contract exists in the log")
	return nil
}

type found struct {
	index int
	entry *cosign.Entry
}

// findAuthorisation finds user's authorisation of document h in an export.
func findAuthorisation(export []byte, user string, h [32]byte) (*found, error) {
	sc := bufio.NewScanner(bytes.NewReader(export))
	sc.Buffer(nil, 1<<20)
	sc.Scan() // header
	for i := 0; sc.Scan() && sc.Text() != ""; i++ {
		e, err := parseLine(sc.Text())
		if err != nil {
			return nil, err
		}
		if e.Kind != cosign.KindAuthorisation || e.User != user {
			continue
		}
		if q, err := cosign.ParseRequest(e.Payload); err == nil && q.Document == h {
			return &found{i, e}, nil
		}
	}
	return nil, errors.New("no such authorisation")
}

// operatorForges is the operator's attempt to put an authorisation of a
// contract in Alice's name into the log. It runs the service and the RA,
// so it certifies itself as "alice" for TLS and asks its own service to
// co-sign: the service's share takes part, but without Alice's phone share
// no signature under her certified key comes out, and the service refuses
// (and logs) anything else.
func operatorForges(ctx context.Context, addr string, ra *cosign.RA, alice *cosign.Credential) error {
	id, err := ra.CA.Issue("alice")
	if err != nil {
		return err
	}
	c, err := cosign.Dial(ctx, id, transport.Trust{Roots: ra.Roots()}, "cosign", addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, keys, err := frost.Deal(frost.Ed25519, nil, 2, []uint16{cosign.ClientID, cosign.ServiceID})
	if err != nil {
		return err
	}
	fake := *alice
	fake.Share = keys[0] // a share of the operator's making in place of the phone's
	doc := sha256.Sum256([]byte("acme sells its headquarters for 1 EUR"))
	_, err = cosign.NewClient(c).Sign(ctx, &fake, doc, "forged")
	var cheater *frost.CheaterError
	if !errors.As(err, &cheater) {
		return fmt.Errorf("the operator's forgery: %v", err)
	}
	fmt.Println("the operator, with the service's share and the RA but not alice's phone, gets no signature under her key:", err)
	return nil
}

// operatorAppends: with the service stopped, the operator opens its store
// and keys and appends an authorisation in Alice's name directly to the
// log. The log verifies every user entry with the user's certified key,
// and will not take one signed as the service.
func operatorAppends(root string, ra *cosign.RA) error {
	svc, err := cosign.OpenService(filepath.Join(root, "service"), &cosign.ServiceConfig{RA: ra})
	if err != nil {
		return err
	}
	defer svc.Close()
	q := &cosign.Request{Org: "acme", Document: sha256.Sum256([]byte("acme sells its headquarters for 1 EUR")), ID: cosign.NewRequestID()}
	payload, _ := q.Marshal()
	e := &cosign.Entry{Kind: cosign.KindAuthorisation, Time: time.Now(), User: "alice", Payload: payload}
	if err := svc.Log().SignAsService(e); err == nil {
		return errors.New("the log key signed an authorisation")
	}
	e.Signer = cosign.SignedByUser
	_, operatorKey, _ := ed25519.GenerateKey(nil)
	if err := e.Sign(svc.Log().Origin(), operatorKey); err != nil {
		return err
	}
	_, _, err = svc.Log().Append(context.Background(), e)
	if !errors.Is(err, cosign.ErrEntrySignature) {
		return fmt.Errorf("the log took the operator's entry: %v", err)
	}
	fmt.Println("appending it to the log directly is refused:", err)
	return nil
}

func parseLine(line string) (*cosign.Entry, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(line)
	if err != nil {
		return nil, err
	}
	return cosign.ParseEntry(b)
}

// exportLog exports the stopped service's log.
func exportLog(root string) ([]byte, error) {
	dir := filepath.Join(root, "service")
	st, err := custody.OpenStore(filepath.Join(dir, cosign.ServiceStoreFile), &custody.StoreConfig{Buckets: cosign.ServiceBuckets})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	hk, err := custody.ReadPrivateKeyFile(filepath.Join(dir, cosign.ServiceKeyFile))
	if err != nil {
		return nil, err
	}
	l, err := cosign.OpenStoredLog(st, hk)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := l.Export(context.Background(), &b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// service is the running service process.
type service struct {
	addr string
	cmd  *exec.Cmd
	in   io.WriteCloser
}

func startService(root string) (*service, error) {
	p, err := child.Start("service", serviceEnv+"="+root)
	if err != nil {
		return nil, err
	}
	fmt.Printf("service process %d serving on %s (mutual TLS)\n", p.Cmd.Process.Pid, p.Addr)
	return &service{addr: p.Addr, cmd: p.Cmd, in: p.Stdin}, nil
}

func (s *service) stop() {
	s.in.Close()
	s.cmd.Wait()
}
