package maskshare

import (
	"context"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/maskshare/maskshare/internal/wire"
	"github.com/maskshare/maskshare/mask"
	"github.com/maskshare/maskshare/psi"
	"github.com/maskshare/maskshare/share"
	"github.com/maskshare/maskshare/transport"
)

// Party is one institution in a session: it holds a table and learns, for
// each of its own records, whether it is common and what it adds up to.
type Party struct {
	name   string
	index  int
	params Params
	wp     wire.Params
	table  *Table
	cfg    *Config
	// spooled is the table of a party made by NewSpooledParty.
	spooled bucketInput
	out     RecordWriter
}

// NewParty returns the party called name for sessions with params, holding
// table. cfg may be nil. The table is validated when the session runs, so
// that a bad table aborts the session for everyone with the reason.
func NewParty(name string, params Params, table *Table, cfg *Config) (*Party, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	idx := slices.Index(params.Parties, name)
	if idx < 0 {
		return nil, fmt.Errorf("%w: party %q is not one of %q", ErrParams, name, params.Parties)
	}
	if err := cfg.checkIdentities(&params, idx); err != nil {
		return nil, err
	}
	return &Party{name: name, index: idx, params: params, wp: params.wire(), table: table, cfg: cfg}, nil
}

// Validate checks the party's table as a session would before it starts:
// duplicates, empty or invalid identifiers, the schema and overflow of the
// n-party sum. A party can call it before connecting, so that bad input
// fails at once, locally; the error is an *InputError.
func (p *Party) Validate() error {
	if p.spooled != nil {
		return p.spooled.check(&p.params)
	}
	_, err := prepare(p.table, &p.params)
	return err
}

// Decline tells the coordinator on conn that party name cannot take part in
// a session with params, and why: an Abort with err's category (never row
// numbers or values), sent before the session starts, so that the others
// end at once with this party's name and reason rather than wait for it.
// The abort is not signed (there is no session to sign it for): the others
// hear of it in the coordinator's words. conn is not closed.
func Decline(ctx context.Context, conn transport.Conn, params Params, name string, err error) error {
	idx := slices.Index(params.Parties, name)
	if idx < 0 {
		return fmt.Errorf("%w: party %q is not one of %q", ErrParams, name, params.Parties)
	}
	// Only the category: the error may quote the party's data (a CSV
	// value, a file name).
	code := abortCode(err)
	reason := "the party could not start"
	if code != 0 {
		reason = abortCodes[code].Error()
	}
	m := &wire.Abort{From: uint16(idx), Code: code, Reason: reason}
	return conn.Send(ctx, m.Encode())
}

// Result is what a party learns from a session.
type Result struct {
	// Size is the number of qualifying records across all parties.
	Size int
	// Records are this party's qualifying records in canonical order: a
	// numbering of the session's qualifying records drawn at random for the
	// session, the same at every party. Empty under CardinalityOnly.
	Records []Record
	// Totals are the column totals over all qualifying records, aggregated
	// over all parties. Nil under CardinalityOnly.
	Totals  []int64
	Columns []Column
	// Transcript is a hash of the session that every party computed alike;
	// the session checked that all parties agree on it.
	Transcript [32]byte
	Phases     []PhaseTime
}

// Record is one qualifying record of a party.
type Record struct {
	ID      string // as in the party's table
	Row     int    // index of the row in the party's table
	Index   int    // canonical index, 0 ≤ Index < Result.Size (random per session)
	Holders int    // how many parties hold the record
	// Values are the aggregates over all holders, one per column; nil under
	// TotalsOnly.
	Values []int64
}

// partySession is one run of a party.
type partySession struct {
	*Party
	conn    transport.Conn
	ph      *phases
	in      *prepared
	sid     [32]byte
	n, cols int

	hellos      []wire.Hello
	maskSeeds   mask.MaskSeeds
	partsOut    []mask.Seed // seeds of the parts this party gives away
	partsIn     []mask.Seed // seeds of the parts it receives
	listTo      [][]byte    // listTo[j] authenticates ecdh lists this party hands to j
	listFrom    [][]byte    // listFrom[j] authenticates ecdh lists j hands to this party
	blindKey    *psi.Key    // the ecdh key, committed to in the Hello
	oprf        *oprfState  // the oprf mode's sessions and keys
	group       [32]byte
	order       []int32           // order[pos] is the row whose tag was sent at position pos (until the Match)
	listSize    int               // the number of tags sent
	secrets     []psi.Secret      // secrets[row] is the record secret of a table row (until the Match)
	matches     []wire.MatchEntry // in canonical order
	posOf       []int32           // posOf[j] is the place of matches[j] in the Match message
	rows        []int32           // rows[j] is the table row of matches[j]
	expect      []uint64          // expect[j] is the match check's sum at matches[j] (until it is checked)
	valueKeys   []valueKeys       // valueKeys[j] are the value check's keys of matches[j] (per-record policy)
	keysPending bool              // valueKeys are derived while the vector is filled (no match check round)
	qualified   []psi.Secret      // qualified[q] is the record secret of entry q of the Match message
	size        int
	abortedBy   *AbortError
	sidKnown    bool     // sid is set: Open has arrived
	session     [32]byte // the session's id; sid is a step's in a bucketed session
	bound       uint32   // the set size bound of the party's Hello
	bucket      *bucketRun
	wantSize    int       // the announced size of a bucket's result, or −1
	keepTags    bool      // keep the tags sent in sentTags
	sentTags    []psi.Tag // the tags sent, in the order sent, if keepTags
}

// newSession starts a run of p over conn, its connection to the
// coordinator. Tests keep the session to look at what the party received.
func (p *Party) newSession(conn transport.Conn) *partySession {
	s := &partySession{Party: p, conn: conn, ph: newPhases(p.name, p.cfg), n: len(p.params.Parties), cols: len(p.params.Columns), wantSize: -1}
	if p.params.BucketRows > 0 {
		in := p.spooled
		if in == nil {
			in = tableInput{p.table}
		}
		s.bucket = &bucketRun{input: in, out: p.out}
	}
	return s
}

// Run runs one session over conn, the party's connection to the
// coordinator. On any failure the session is aborted for every participant
// and no result is returned.
func (p *Party) Run(ctx context.Context, conn transport.Conn) (*Result, error) {
	return p.newSession(conn).runAll(ctx)
}

func (s *partySession) runAll(ctx context.Context) (*Result, error) {
	res, err := s.run(ctx)
	s.ph.end()
	if err != nil {
		if s.abortedBy == nil {
			// Tell the coordinator, which tells the others. Only the
			// error's category leaves the party. Once the party knows
			// the session, the abort is signed for it, so the others
			// can tell it is this party's word, not the coordinator's.
			m := &wire.Abort{From: uint16(s.index), Code: abortCode(err), Reason: wire.FitReason(publicReason(err))}
			if s.sidKnown {
				m.Sig = signAbort(s.cfg.identity(), s.session, m)
			}
			msg := m.Encode()
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			_ = s.conn.Send(actx, msg) // best effort: the session is over either way
			cancel()
		}
		s.ph.log.Warn("session failed", "party", s.name, "err", publicReason(err))
		return nil, err
	}
	res.Phases = s.ph.list
	return res, nil
}

func (s *partySession) run(ctx context.Context) (*Result, error) {
	if s.bucket != nil {
		return s.runBucketed(ctx)
	}
	s.ph.start("prepare")
	in, err := prepare(s.table, &s.params)
	if err != nil {
		return nil, s.learnSession(ctx, err)
	}
	s.in = in
	s.bound = sizeBound(len(in.ids))

	s.ph.start("keys")
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if err := s.exchangeKeys(ctx); err != nil {
		return nil, err
	}

	s.ph.start("intersect")
	switch s.params.Mode {
	case Keyed:
		err = s.keyedPSI(ctx)
	case ECDH:
		err = s.ecdhPSI(ctx)
	case OPRF:
		err = s.oprfPSI(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := s.receiveMatch(ctx); err != nil {
		return nil, coordinatorFault("match", err)
	}
	if s.params.Mode == OPRF && s.params.Reveal != CardinalityOnly {
		s.ph.start("record secrets")
		if err := s.oprfSecrets(ctx); err != nil {
			return nil, err
		}
	}

	res := &Result{Size: s.size, Columns: slices.Clone(s.params.Columns)}
	var maskedTotals []uint64
	var valuesDigest []byte
	if s.params.Reveal != CardinalityOnly {
		if maskedTotals, valuesDigest, err = s.aggregate(ctx, res); err != nil {
			return nil, err
		}
	}

	s.ph.start("confirm")
	res.Transcript = s.transcript(maskedTotals, valuesDigest)
	if err := s.confirm(ctx, res.Transcript); err != nil {
		return nil, err
	}
	return res, nil
}

// confirm sends the MAC of the party's transcript and checks that every
// party's MAC, relayed in the Done, is the same.
func (s *partySession) confirm(ctx context.Context, transcript [32]byte) error {
	mac := hmac.New(sha256.New, deriveKeySlice(s.group, s.sid, labelConfirm))
	mac.Write(transcript[:])
	var mine [32]byte
	mac.Sum(mine[:0])
	if err := s.conn.Send(ctx, (&wire.Confirm{MAC: mine}).Encode()); err != nil {
		return s.unavailable(err)
	}
	msg, err := s.recv(ctx, wire.TypeDone)
	if err != nil {
		return err
	}
	done, err := wire.DecodeDone(msg, s.n)
	if err != nil {
		return coordinatorFault("confirm", fmt.Errorf("%w: %v", ErrProtocol, err))
	}
	for i, m := range done.MACs {
		if subtle.ConstantTimeCompare(m[:], mine[:]) != 1 {
			// Honest participants compute equal transcripts: someone
			// deviated (the coordinator, by showing parties different
			// things, or a party, by lying about what it saw).
			return &CheatingError{Check: "transcript", Err: fmt.Errorf("%w: party %s's transcript differs", ErrTranscript, s.params.Parties[i])}
		}
	}
	return nil
}

// aggregate runs what follows a checked Match: the match check, the
// masked vector, the reveal and the value checks, and fills res. It
// returns the masked totals and the digest of the masked aggregates, which
// go into the transcript.
func (s *partySession) aggregate(ctx context.Context, res *Result) (maskedTotals []uint64, valuesDigest []byte, err error) {
	s.ph.start("check match")
	if err := s.checkMatch(ctx); err != nil {
		return nil, nil, err
	}
	// The phases split the work so that masking and aggregation proper
	// (mask, unmask; the coordinator's sum) can be timed apart from the
	// network, the checks and building the result.
	s.ph.start("mask")
	words := s.maskedVector()
	s.ph.start("aggregate")
	if err := s.conn.Send(ctx, (&wire.Masked{Columns: uint16(s.cols + checkWords), Size: uint32(s.columnWords()), Words: words}).Encode()); err != nil {
		return nil, nil, s.unavailable(err)
	}
	words = nil
	count, pad := 0, 0
	if s.params.Reveal == PerRecord {
		count, pad = len(s.matches), padded(PerRecord, s.listSize, s.size)
	}
	m, err := s.receiveReveal(ctx, s.cols+checkWords, count, pad)
	if err != nil {
		return nil, nil, coordinatorFault("reveal", err)
	}
	maskedTotals, valuesDigest = slices.Clone(m.Totals[:s.cols]), s.valuesDigest(m)
	s.ph.start("unmask")
	s.unmask(m)
	s.ph.start("check values")
	if err := s.checkTotals(m); err != nil {
		return nil, nil, err
	}
	s.ph.start("output")
	if err := s.fillResult(res, m); err != nil {
		return nil, nil, err
	}
	return maskedTotals, valuesDigest, nil
}

// learnSession returns err, the party's failure before the session, after
// learning the session from the coordinator's Open, so that the abort can
// be signed for it; without it the abort is unsigned and the others hear of
// it only as the coordinator's word.
func (s *partySession) learnSession(ctx context.Context, err error) error {
	actx, cancel := context.WithTimeout(ctx, abortTimeout)
	defer cancel()
	if msg, rerr := s.recv(actx, wire.TypeOpen); rerr == nil {
		if open, derr := wire.DecodeOpen(msg); derr == nil {
			s.sid, s.session, s.sidKnown = open.Session, open.Session, true
		}
	}
	return err
}

// open reads the coordinator's Open and checks it against the party's
// parameters.
func (s *partySession) open(ctx context.Context) error {
	msg, err := s.recv(ctx, wire.TypeOpen)
	if err != nil {
		return err
	}
	open, err := wire.DecodeOpen(msg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	s.sid, s.session, s.sidKnown = open.Session, open.Session, true
	if d := diffParams(&s.wp, &open.Params); d != "" {
		return fmt.Errorf("%w: party %s has %s", ErrParamsMismatch, s.name, d)
	}
	if int(open.Index) != s.index {
		return fmt.Errorf("%w: coordinator calls this party %d, it is %d", ErrProtocol, open.Index, s.index)
	}
	return nil
}

// exchangeKeys sends the party's ephemeral key and set size bound, checks
// the others', and exchanges the sealed boxes that carry the group secret's
// contributions and the part seeds.
func (s *partySession) exchangeKeys(ctx context.Context) error {
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	var pub [32]byte
	copy(pub[:], eph.PublicKey().Bytes())
	digest := paramsDigest(&s.wp)
	hello := &wire.Hello{Key: pub, Bound: s.bound}
	if s.params.Mode == ECDH {
		// Drawn before the Hello, which commits to it: every blinding
		// this party does is proven against the commitment.
		if s.blindKey, err = psi.NewKey(); err != nil {
			return err
		}
		hello.Blind = s.blindKey.Public()
	}
	hello.Sig = signHello(s.cfg.identity(), s.sid, s.index, hello, digest)
	if err := s.conn.Send(ctx, hello.Encode()); err != nil {
		return s.unavailable(err)
	}
	msg, err := s.recv(ctx, wire.TypePeers)
	if err != nil {
		return err
	}
	peers, err := wire.DecodePeers(msg, s.n)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if mine := peers.Hellos[s.index]; mine.Key != pub || mine.Blind != hello.Blind || mine.Bound != hello.Bound {
		return fmt.Errorf("%w: the coordinator relayed a different hello for this party", ErrAuthentication)
	}
	s.hellos = peers.Hellos
	s.maskSeeds = mask.MaskSeeds{Plus: peers.MaskPlus, Minus: peers.MaskMinus}

	aeadTo := make([]cipher.AEAD, s.n)
	aeadFrom := make([]cipher.AEAD, s.n)
	s.listTo, s.listFrom = make([][]byte, s.n), make([][]byte, s.n)
	for j, h := range peers.Hellos {
		if j == s.index {
			continue
		}
		if pub, check := s.cfg.pinnedKey(s.params.Parties[j]); check && !verifyHello(pub, s.sid, j, &h, digest) {
			return fmt.Errorf("%w: party %s's session key is not signed by its identity", ErrAuthentication, s.params.Parties[j])
		}
		if err := checkCommitment(s.params.Mode, &h.Blind); err != nil {
			return fmt.Errorf("%w: party %s's hello: %v", ErrProtocol, s.params.Parties[j], err)
		}
		if aeadTo[j], err = pairAEAD(eph, h.Key, s.sid, s.index, j, pub, h.Key); err != nil {
			return err
		}
		if aeadFrom[j], err = pairAEAD(eph, h.Key, s.sid, j, s.index, h.Key, pub); err != nil {
			return err
		}
		if s.params.Mode == OPRF {
			if h.Bound > oprfMaxRows && s.params.BucketRows == 0 {
				return fmt.Errorf("%w: party %s's set size bound %d exceeds the oprf mode's %d", ErrProtocol, s.params.Parties[j], h.Bound, oprfMaxRows)
			}
			if s.oprf == nil {
				s.oprf = newOPRFState(make([][]byte, s.n), make([][]byte, s.n))
			}
			if s.oprf.toKey[j], err = pairKey(eph, h.Key, s.sid, oprfSealLabel, s.index, j, pub, h.Key); err != nil {
				return err
			}
			if s.oprf.fromKey[j], err = pairKey(eph, h.Key, s.sid, oprfSealLabel, j, s.index, h.Key, pub); err != nil {
				return err
			}
		}
		if s.params.Mode == ECDH {
			if s.listTo[j], err = pairKey(eph, h.Key, s.sid, listLabel, s.index, j, pub, h.Key); err != nil {
				return err
			}
			if s.listFrom[j], err = pairKey(eph, h.Key, s.sid, listLabel, j, s.index, h.Key, pub); err != nil {
				return err
			}
		}
	}

	// Box to j: this party's group contribution, then the seed of j's part.
	contrib := mask.NewSeed()
	if s.partsOut, err = share.NewSeeds(s.n, s.index); err != nil {
		return err
	}
	out := &wire.Sealed{}
	for j := range s.n {
		if j == s.index {
			continue
		}
		pt := append(contrib[:], s.partsOut[j][:]...)
		box := sealBox(aeadTo[j], s.sid, s.index, j, pt)
		if s.sendDirect(ctx, j, box) {
			box = nil // an empty relayed box says "delivered directly"
		}
		out.Boxes = append(out.Boxes, wire.Box{Peer: uint16(j), Sealed: box})
	}
	if err := s.conn.Send(ctx, out.Encode()); err != nil {
		return s.unavailable(err)
	}
	msg, err = s.recv(ctx, wire.TypeSealed)
	if err != nil {
		return err
	}
	in, err := wire.DecodeSealed(msg, s.n, s.index)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	contribs := make([][32]byte, s.n)
	contribs[s.index] = contrib
	s.partsIn = make([]mask.Seed, s.n)
	for _, b := range in.Boxes {
		j := int(b.Peer)
		box := b.Sealed
		if len(box) == 0 {
			if box, err = s.recvDirect(ctx, j); err != nil {
				return err
			}
		}
		pt, err := openBox(aeadFrom[j], s.sid, j, s.index, box)
		if err != nil {
			return err
		}
		if len(pt) != 64 {
			return fmt.Errorf("%w: box from party %s holds %d bytes", ErrProtocol, s.params.Parties[j], len(pt))
		}
		contribs[j] = [32]byte(pt[:32])
		s.partsIn[j] = mask.Seed(pt[32:])
	}
	s.group = groupSecret(s.sid, contribs)
	return nil
}

// sizeBound is what a party says of its set size: the smallest power of two
// at least n, so that the others can bound the result without learning n.
func sizeBound(n int) uint32 {
	return uint32(1) << bits.Len32(uint32(max(n, 1)-1))
}

// withinBound reports whether a list of n items fits the bound b a party
// announced: b/2 < n ≤ b.
func withinBound(n int, b uint32) bool {
	return n >= 1 && uint64(n) <= uint64(b) && 2*uint64(n) > uint64(b)
}

// sendDirect tries to deliver a box to party j without the relay, and
// reports whether it did: the recipient acknowledged it. Any failure just
// means the box is relayed.
func (s *partySession) sendDirect(ctx context.Context, j int, box []byte) bool {
	if s.cfg == nil || s.cfg.Direct == nil {
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	err := s.cfg.Direct.Send(dctx, s.sid, s.params.Parties[j], directMessage(s.index, box))
	if err != nil {
		s.ph.log.Info("direct delivery failed; relaying", "peer", s.params.Parties[j], "err", err)
		return false
	}
	return true
}

// recvDirect returns the box party j delivered directly. j had it
// acknowledged before it sent its relayed message, so it is here; a box
// that is not here within directTimeout aborts the session.
func (s *partySession) recvDirect(ctx context.Context, j int) ([]byte, error) {
	if s.cfg == nil || s.cfg.Direct == nil {
		return nil, fmt.Errorf("%w: party %s delivered directly, but this party takes no direct deliveries", ErrProtocol, s.params.Parties[j])
	}
	dctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	msg, err := s.cfg.Direct.Recv(dctx, s.sid, s.params.Parties[j])
	if err != nil {
		return nil, fmt.Errorf("%w: direct delivery from party %s: %v", ErrPartyUnavailable, s.params.Parties[j], err)
	}
	from, box, ok := parseDirectMessage(msg)
	if !ok || from != j {
		return nil, fmt.Errorf("%w: malformed direct delivery from party %s", ErrProtocol, s.params.Parties[j])
	}
	return box, nil
}

// keyedPSI tags the party's identifiers under the group's PRF key and
// sends the tags in tag order, which reveals nothing about row order. The
// other half of each PRF output is the record's secret.
func (s *partySession) keyedPSI(ctx context.Context) error {
	key := deriveKey(s.group, s.sid, labelPSI)
	tagger, err := psi.NewTagger(key[:], s.sid)
	if err != nil {
		return err
	}
	tags := make([]psi.Tag, len(s.in.ids))
	secrets := make([]psi.Secret, len(s.in.ids))
	tagger.TagAll(tags, secrets, s.in.ids)
	s.in = nil // the tags stand for the identifiers from here on
	return s.sendTags(ctx, tags, secrets, nil)
}

// sendTags sends the tags in ascending order and keeps, by position sent,
// the row of each, and the secrets by row. rows maps the order of tags and
// secrets to table rows (nil: they are in row order).
func (s *partySession) sendTags(ctx context.Context, tags []psi.Tag, secrets []psi.Secret, rows []int32) error {
	sorted, order := psi.Sort(tags)
	s.secrets = secrets
	if rows != nil {
		s.secrets = make([]psi.Secret, len(secrets))
		for i, row := range rows {
			s.secrets[row] = secrets[i]
		}
		for pos, i := range order {
			order[pos] = rows[i]
		}
	}
	s.order, s.listSize = order, len(order)
	if s.keepTags {
		s.sentTags = sorted
	}
	if err := s.conn.Send(ctx, (&wire.Tags{Tags: sorted}).Encode()); err != nil {
		return s.unavailable(err)
	}
	return nil
}

// ecdhPSI blinds the party's identifiers with a one-time key and sends
// them round the ring; it blinds the others' lists with its key as they
// come by; when its own list comes back blinded by everyone else, it swaps
// the one-time key for its own, which gives the fully blinded elements, and
// sends their tags. Nobody but the party sees its fully blinded elements,
// so only the holders of an identifier know its record secret. Every list
// travels with a MAC from the party that produced it to the party that
// consumes it, which the coordinator can neither compute nor keep valid if
// it adds, drops or replaces an element; and with a check chain: a secret
// random combination of the owner's list, blinded and proven at every hop
// with the key each party committed to, which the owner compares with the
// same combination of the list that comes back (docs/PROTOCOL.md §5).
func (s *partySession) ecdhPSI(ctx context.Context) error {
	key := s.blindKey
	once, err := psi.NewKey()
	if err != nil {
		return err
	}
	// One secret coefficient per element (per row here, then in the order
	// sent), known to this party only.
	coef := make([]uint64, len(s.in.ids))
	if err := randomWords(coef); err != nil {
		return err
	}
	elems := make([]psi.Element, len(s.in.ids))
	check := once.HashAndBlindSum(elems, s.in.ids, s.sid, coef)
	s.in = nil // the elements stand for the identifiers from here on
	sorted, rows := psi.Sort(elems)
	elems = nil
	sortedCoef := make([]uint64, len(rows))
	for p, r := range rows {
		sortedCoef[p] = coef[r]
	}
	coef = nil
	next := (s.index + 1) % s.n // who blinds this party's list first
	out := &wire.Elements{Owner: uint16(s.index), Chain: []psi.Element{check}, Elems: sorted}
	out.MAC = listMAC(s.listTo[next], s.sid, s.index, 0, out)
	if err := s.conn.Send(ctx, out.Encode()); err != nil {
		return s.unavailable(err)
	}
	// Steps: hashing the own list, blinding n − 1 others, tagging the own.
	records := int64(len(sorted))
	s.ph.step(1, s.n+1, records)
	for hop := 1; hop <= s.n; hop++ {
		msg, err := s.recv(ctx, wire.TypeElements)
		if err != nil {
			return err
		}
		m, err := wire.DecodeElements(msg, s.n)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		owner := (s.index - hop + s.n) % s.n
		if int(m.Owner) != owner || int(m.Hop) != hop || len(m.Chain) != hop {
			return fmt.Errorf("%w: got list %d hop %d with a chain of %d, want list %d hop %d with %d",
				ErrProtocol, m.Owner, m.Hop, len(m.Chain), owner, hop, hop)
		}
		producer := (s.index - 1 + s.n) % s.n // blinded it at hop − 1 (the owner, at hop 1)
		if want := listMAC(s.listFrom[producer], s.sid, owner, hop-1, m); !hmac.Equal(want[:], m.MAC[:]) {
			// Either the coordinator altered it or the producer lied about
			// it: who cannot be known here.
			return &CheatingError{Check: "ecdh list authentication", Err: fmt.Errorf(
				"list of party %s at hop %d is not what party %s produced (elements added, dropped or replaced, or another session's)",
				s.params.Parties[owner], hop, s.params.Parties[producer])}
		}
		if len(m.Elems) == 0 {
			// An empty list (a bucket without rows) has nothing to
			// blind or prove: its check chain is the identity
			// throughout, with empty proofs.
			if err := s.emptyHop(ctx, m, owner, hop, next, len(sorted)); err != nil || hop == s.n {
				return err
			}
			continue
		}
		if err := s.verifyChain(owner, m); err != nil {
			return err
		}
		if hop == s.n { // the party's own list, back from the others
			if len(m.Elems) != len(sorted) || m.Chain[0] != check {
				return &CheatingError{Check: "ecdh blinding check", Err: fmt.Errorf(
					"own list came back with %d elements (sent %d) or another check point", len(m.Elems), len(sorted))}
			}
			got, err := key.Div(once).BlindSum(m.Elems, m.Elems, sortedCoef)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrProtocol, err)
			}
			// Σ c_i·F_i = (Π k_j)·Σ c_i·L0_i = Chain[n−1] unless an element
			// was replaced, swapped or blinded with another key.
			if got != m.Chain[s.n-1] {
				return &CheatingError{Check: "ecdh blinding check", Err: fmt.Errorf(
					"own list came back not blinded by the committed keys of the others, element by element (replaced, swapped or blinded with another key)")}
			}
			tags := make([]psi.Tag, len(m.Elems))
			secrets := make([]psi.Secret, len(m.Elems))
			psi.ElementTags(tags, secrets, m.Elems, s.sid)
			s.ph.step(s.n+1, s.n+1, records+int64(len(m.Elems)))
			return s.sendTags(ctx, tags, secrets, rows)
		}
		if !s.listFits(len(m.Elems), s.hellos[owner].Bound) {
			return fmt.Errorf("%w: list of party %s has %d elements, beyond its bound %d", ErrProtocol, s.params.Parties[owner], len(m.Elems), s.hellos[owner].Bound)
		}
		if err := key.Blind(m.Elems, m.Elems); err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		point, proof, err := key.Prove(proofContext(s.sid, owner, hop), &m.Chain[hop-1])
		if err != nil { // verifyChain checked the point
			return err
		}
		m.Chain, m.Proofs = append(m.Chain, point), append(m.Proofs, proof)
		m.MAC = listMAC(s.listTo[next], s.sid, owner, hop, m)
		if err := s.conn.Send(ctx, m.Encode()); err != nil {
			return s.unavailable(err)
		}
		records += int64(len(m.Elems))
		s.ph.step(hop+1, s.n+1, records)
	}
	return nil
}

// emptyHop handles an empty ecdh list at hop: its chain must be the
// identity with empty proofs; at hop n it is the party's own, which it tags
// (no tags), else the party passes it on with the chain one longer.
func (s *partySession) emptyHop(ctx context.Context, m *wire.Elements, owner, hop, next, sent int) error {
	for _, c := range m.Chain {
		if c != (psi.Element{}) {
			return &CheatingError{Check: "ecdh blinding check", Err: fmt.Errorf("empty list of party %s has a check chain", s.params.Parties[owner])}
		}
	}
	for _, p := range m.Proofs {
		if p != (psi.Proof{}) {
			return &CheatingError{Check: "ecdh blinding check", Err: fmt.Errorf("empty list of party %s has proofs", s.params.Parties[owner])}
		}
	}
	if hop == s.n {
		if sent != 0 {
			return &CheatingError{Check: "ecdh blinding check", Err: fmt.Errorf("own list came back empty (sent %d)", sent)}
		}
		return s.sendTags(ctx, nil, nil, []int32{})
	}
	m.Chain, m.Proofs = append(m.Chain, psi.Element{}), append(m.Proofs, psi.Proof{})
	m.MAC = listMAC(s.listTo[next], s.sid, owner, hop, m)
	if err := s.conn.Send(ctx, m.Encode()); err != nil {
		return s.unavailable(err)
	}
	return nil
}

// verifyChain checks the check chain of a list of owner as received at
// hop len(m.Chain): its first point is a valid element, and every later
// one is proven to be the one before blinded with the key its party
// committed to. The MAC has shown that the producer (the party before this
// one on the ring) sent the chain, so a bad last proof is the producer's;
// a bad earlier one came from further back, through the producer, and
// cannot be pinned on anyone.
func (s *partySession) verifyChain(owner int, m *wire.Elements) error {
	last := len(m.Chain) - 1
	if err := psi.CheckElement(&m.Chain[0]); err != nil {
		return &CheatingError{Check: "ecdh blinding proof", Party: s.chainParty(owner, 0, last), Err: fmt.Errorf("list of party %s: check point: %v", s.params.Parties[owner], err)}
	}
	// The proofs are independent: verified on all cores, the first failing
	// hop reported.
	errs := make([]error, last+1)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for h := 1; h <= last; h++ {
		g.Go(func() error {
			j := (owner + h) % s.n
			errs[h] = psi.VerifyProof(proofContext(s.sid, owner, h), &s.hellos[j].Blind, &m.Chain[h-1], &m.Chain[h], &m.Proofs[h-1])
			return nil
		})
	}
	g.Wait()
	for h, err := range errs {
		if err != nil {
			j := (owner + h) % s.n
			return &CheatingError{Check: "ecdh blinding proof", Party: s.chainParty(owner, h, last), Err: fmt.Errorf(
				"list of party %s: the blinding by party %s at hop %d is not proven: %v", s.params.Parties[owner], s.params.Parties[j], h, err)}
		}
	}
	return nil
}

// chainParty names the party to blame for the chain link of hop h, when
// hop last is the newest: its producer; older links cannot be attributed.
func (s *partySession) chainParty(owner, h, last int) string {
	if h != last {
		return ""
	}
	return "party " + s.params.Parties[(owner+h)%s.n]
}

// randomWords fills v from crypto/rand.
func randomWords(v []uint64) error {
	b := make([]byte, 8*len(v))
	if _, err := rand.Read(b); err != nil {
		return err
	}
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	clear(b)
	return nil
}

// maxResultSize is the largest result the announced set sizes allow.
func (s *partySession) maxResultSize() uint64 {
	return maxResultSize(s.hellos, s.params.threshold())
}

// maxResultSize is the largest result the set size bounds of hellos allow.
// Every qualifying record is held by at least k parties, so there are at
// most ⌊Σ B / k⌋ of them, and each is held by one of any n − k + 1
// parties, so at most the sum of the n − k + 1 smallest bounds (for k = n,
// the smallest bound).
func maxResultSize(hellos []wire.Hello, k int) uint64 {
	bounds := make([]uint64, len(hellos))
	var total uint64
	for i, h := range hellos {
		bounds[i] = uint64(h.Bound)
		total += bounds[i]
	}
	slices.Sort(bounds)
	var smallest uint64
	for _, b := range bounds[:len(bounds)-k+1] {
		smallest += b
	}
	return min(total/uint64(k), smallest, MaxRecords)
}

// padded is the number of entries the Match and Reveal messages for this
// party are padded to: a number the network already sees (the party's list
// size, and under the per-record policy the result size, which the masked
// vectors show), so their lengths say nothing about how many records
// qualify.
func padded(policy RevealPolicy, listSize, size int) int {
	switch policy {
	case PerRecord:
		return min(listSize, size)
	case TotalsOnly:
		return listSize
	}
	return 0
}

// receiveMatch reads and checks the coordinator's answer to the PSI.
func (s *partySession) receiveMatch(ctx context.Context) error {
	msg, err := s.recv(ctx, wire.TypeMatch)
	if err != nil {
		return err
	}
	width := 0
	if s.params.Mode == OPRF {
		width = s.n - 1
	}
	m, err := wire.DecodeMatchWidth(msg, width)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if s.oprf != nil {
		// The bytes for lower peers carry nothing (oprfKeyValue): an
		// honest coordinator sends 0, and anything else is refused.
		for e := range m.Matches {
			for j := range s.index {
				if m.Cands[e*width+j] != 0 {
					return coordinatorFault("match", fmt.Errorf("%w: match entry %d has candidate %d for party %s, which has a lower index", ErrProtocol, e, m.Cands[e*width+j], s.params.Parties[j]))
				}
			}
		}
		s.oprf.cands = m.Cands
	}
	if uint64(m.Size) > s.maxResultSize() {
		return fmt.Errorf("%w: result of %d records, more than the set sizes allow (%d)", ErrProtocol, m.Size, s.maxResultSize())
	}
	if s.wantSize >= 0 && int(m.Size) != s.wantSize {
		return fmt.Errorf("%w: match of %d records, the sizes said %d", ErrProtocol, m.Size, s.wantSize)
	}
	s.size = int(m.Size)
	k := s.params.threshold()
	if want := padded(s.params.Reveal, s.listSize, s.size); int(m.Padded) != want {
		return fmt.Errorf("%w: match padded to %d entries, want %d", ErrProtocol, m.Padded, want)
	}
	// keys[i] is match i's canonical index and then i: sorted, they give
	// the canonical order and put repeated indices side by side.
	keys := make([]uint64, 0, len(m.Matches))
	bad, why := len(m.Matches), error(nil) // the first match in error, and why
	for i, x := range m.Matches {
		switch {
		case int(x.Pos) >= s.listSize || i > 0 && x.Pos <= m.Matches[i-1].Pos:
			why = fmt.Errorf("%w: match %d names position %d", ErrProtocol, i, x.Pos)
		case int(x.Index) >= s.size:
			why = fmt.Errorf("%w: match %d names index %d of %d", ErrProtocol, i, x.Index, s.size)
		case int(x.Holders) < k || int(x.Holders) > s.n:
			why = fmt.Errorf("%w: match %d has %d holders", ErrProtocol, i, x.Holders)
		}
		if why != nil {
			bad = i
			break
		}
		keys = append(keys, uint64(x.Index)<<32|uint64(i))
	}
	slices.Sort(keys)
	for j := 1; j < len(keys); j++ {
		if i := int(uint32(keys[j])); keys[j]>>32 == keys[j-1]>>32 && i < bad {
			bad, why = i, fmt.Errorf("%w: match %d names index %d of %d", ErrProtocol, i, m.Matches[i].Index, s.size)
		}
	}
	if why != nil {
		return why
	}
	if k == s.n && len(m.Matches) != s.size && s.params.Reveal != CardinalityOnly {
		return fmt.Errorf("%w: %d matches for a result of %d held by all parties", ErrProtocol, len(m.Matches), s.size)
	}
	if s.params.Reveal == PerRecord && k == s.n { // index r's designated holder is party r mod n
		for i, x := range m.Matches {
			if x.Designated != (int(x.Index)%s.n == s.index) {
				return fmt.Errorf("%w: match %d designates other than party (index mod n) (k = n)", ErrProtocol, i)
			}
		}
	}
	if s.bucket == nil && s.size < s.params.MinResultSize {
		return fmt.Errorf("%w: result of %d below the minimum", ErrProtocol, s.size)
	}
	// Canonical order, so results list records alike at every party. The
	// canonical order is random against table rows: looking each row up
	// once here leaves one random access per record and column later.
	s.matches = make([]wire.MatchEntry, len(keys))
	s.posOf = make([]int32, len(keys))
	s.rows = make([]int32, len(keys))
	for j, key := range keys {
		i := uint32(key)
		s.matches[j], s.posOf[j] = m.Matches[i], int32(i)
		s.rows[j] = s.order[m.Matches[i].Pos]
	}
	// Only the qualifying records' secrets are needed from here on (for
	// the record masks and the checks), in the order of the Match, in
	// which the reveals' words come.
	if s.params.Reveal != CardinalityOnly && s.secrets != nil { // oprf: oprfSecrets
		s.qualified = make([]psi.Secret, len(m.Matches))
		forRanges(len(m.Matches), func(lo, hi int) {
			for q := lo; q < hi; q++ {
				s.qualified[q] = s.secrets[s.order[m.Matches[q].Pos]]
			}
		})
	}
	s.order, s.secrets = nil, nil // rows say all that is needed of them
	return nil
}

// hidden reports whether the aggregates are hidden from the coordinator.
func (s *partySession) hidden() bool { return !s.params.CoordinatorSeesResult }

// columnWords is the length of a column of the masked vectors: under the
// per-record policy a word per qualifying record and one for the column's
// total, otherwise the total only.
func (s *partySession) columnWords() int {
	if s.params.Reveal == PerRecord {
		return s.size + 1
	}
	return 1
}

// recordMasked reports whether records carry output masks: under the
// per-record policy with the aggregates hidden from the coordinator.
func (s *partySession) recordMasked() bool {
	return s.params.Reveal == PerRecord && s.hidden()
}

// eachRecordMask calls f(q, μ) for every Match entry q with the output
// mask μ of its record, on all cores. Each mask is derived from the
// record's secret, which only the record's holders know; none is kept.
func (s *partySession) eachRecordMask(f func(q int, mu []uint64)) {
	forRanges(len(s.qualified), func(lo, hi int) {
		var m mask.RecordMasker
		mu := make([]uint64, s.cols)
		for q := lo; q < hi; q++ {
			m.Mask(mu, s.qualified[q])
			f(q, mu)
		}
	})
}

// totalsMask is the mask that hides the column totals from the
// coordinator: derived from the group secret, since every party learns the
// totals.
func (s *partySession) totalsMask() []uint64 {
	seed := deriveKey(s.group, s.sid, labelOutput)
	out := make([]uint64, s.cols)
	for c := range out {
		mask.Expand(out[c:c+1], seed, mask.Domain{Session: s.sid, Purpose: mask.PurposeOutput, Column: uint32(c)})
	}
	return out
}

// maskedVector builds the party's vector: per column, its values at the
// canonical indexes of its qualifying records (with the record's output
// mask where it is the designated holder) and its share of the column total
// (with the totals mask at party 0), then the two columns of its value
// check words, and hides every column: it takes its own part, adds the
// parts it received and its zero-sum mask.
func (s *partySession) maskedVector() []uint64 {
	w := s.columnWords()
	perRecord := s.params.Reveal == PerRecord
	words := make([]uint64, (s.cols+checkWords)*w)
	gamma, padT, alphaT := s.valueCheckKeys()
	totals := make([]uint64, s.cols) // the party's own, unmasked
	// Column after column, so that a column's words stay in cache while
	// its values are looked up at random, each split over the cores by
	// records: the values go to their indexes and into acc[j], the
	// record's Σ_c γ_c·x_c, a stream in canonical order.
	var acc []uint64
	if perRecord {
		acc = make([]uint64, len(s.matches))
	}
	for c := range s.cols {
		col := words[c*w : (c+1)*w]
		vals := s.table.Values[c]
		var mu sync.Mutex
		forRanges(len(s.matches), func(a, b int) {
			var part uint64
			for j := a; j < b; j++ {
				v := uint64(vals[s.rows[j]])
				part += v
				if perRecord {
					col[s.matches[j].Index] = v // distinct indexes
					acc[j] = mask.AddP(acc[j], mask.MulP(gamma[c], mask.LiftP(v)))
				}
			}
			mu.Lock()
			totals[c] += part
			mu.Unlock()
		})
	}
	// Then record by record: its value check keys (unless the match check
	// derived them), its record mask where this party is the designated
	// holder, and its value check word.
	if perRecord {
		masked := s.recordMasked()
		chk := words[s.cols*w:]
		forRanges(len(s.matches), func(a, b int) {
			var m mask.RecordMasker
			mu := make([]uint64, s.cols)
			for j := a; j < b; j++ {
				x := s.matches[j]
				k := &s.valueKeys[j]
				if s.keysPending {
					k.pad, k.alpha = m.ValueKeys(s.qualified[s.posOf[j]], uint32(s.size), x.Index)
				}
				var pad uint64
				if x.Designated {
					pad = k.pad
					if masked {
						m.Mask(mu, s.qualified[s.posOf[j]])
						for c, u := range mu {
							words[c*w+int(x.Index)] += u
						}
					}
				}
				chk[x.Index] = mask.AddP(pad, mask.MulP(k.alpha, acc[j]))
			}
		})
	}
	s.bucketTotals(totals)
	t := s.totalsCheck(gamma, padT, alphaT, totals)
	words[s.cols*w+w-1] = t
	var totMask []uint64
	if s.hidden() && s.index == 0 {
		totMask = s.totalsMask()
	}
	for c, total := range totals {
		if totMask != nil {
			total += totMask[c]
		}
		words[c*w+w-1] = total
	}
	s.hideColumns(words, w, 0, s.cols+checkWords)
	return words
}

// receiveReveal reads a Reveal of cols columns and count records padded to
// pad, and checks its shape. Values arrive record by record in the order of
// the Match message; s.matches is in canonical order.
func (s *partySession) receiveReveal(ctx context.Context, cols, count, pad int) (*wire.Reveal, error) {
	msg, err := s.recv(ctx, wire.TypeReveal)
	if err != nil {
		return nil, err
	}
	m, err := wire.DecodeReveal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if len(m.Totals) != cols || int(m.Count) != count || int(m.Padded) != pad {
		return nil, fmt.Errorf("%w: reveal of %d columns × %d records padded to %d, want %d × %d padded to %d",
			ErrProtocol, len(m.Totals), m.Count, m.Padded, cols, count, pad)
	}
	return m, nil
}

// unmask removes the output masks from the totals and the revealed values,
// in place, unless the coordinator was allowed to see the result.
func (s *partySession) unmask(m *wire.Reveal) {
	if !s.hidden() {
		return
	}
	for c, x := range s.totalsMask() {
		m.Totals[c] -= x
	}
	if m.Count != 0 { // values come in the order of the Match
		vc := s.cols + checkWords
		s.eachRecordMask(func(q int, mu []uint64) {
			mask.Sub(m.Values[q*vc:q*vc+s.cols], mu)
		})
	}
}

// fillResult builds the party's records from the unmasked reveal.
// fillResult builds the party's records from the unmasked reveal, checking
// each record's value check as it goes (the record's words are read once).
func (s *partySession) fillResult(res *Result, m *wire.Reveal) error {
	res.Totals = toInt64(m.Totals[:s.cols])
	res.Records = make([]Record, len(s.matches))
	var values []int64 // all records' values, one allocation
	if m.Count > 0 {
		values = make([]int64, len(s.matches)*s.cols)
	}
	// Filling the records is mostly waiting for memory (rows and values are
	// looked up in canonical order, unrelated to table order): spread it
	// over all cores.
	var gamma []uint64
	if values != nil {
		gamma, _, _ = s.valueCheckKeys()
	}
	bad := s.firstBad(func(j int) bool {
		x := s.matches[j]
		row := int(s.rows[j])
		r := Record{ID: s.table.IDs[row], Row: row, Index: int(x.Index), Holders: int(x.Holders)}
		if values != nil {
			at := int(s.posOf[j]) * (s.cols + checkWords)
			v := m.Values[at : at+s.cols+checkWords]
			if !s.recordCheck(gamma, j, v) {
				return false
			}
			r.Values = values[j*s.cols : (j+1)*s.cols : (j+1)*s.cols]
			for c := range r.Values {
				r.Values[c] = int64(v[c])
			}
		}
		res.Records[j] = r
		return true
	})
	if bad >= 0 {
		return s.badRecord(bad)
	}
	return nil
}

// valuesDigest hashes the masked aggregates in canonical order, column
// after column, when every party holds every record and sees them all
// (k = n, per-record); otherwise it returns nil: with k < n a party sees
// only its own records', and nothing about the others' may enter what the
// parties compare.
func (s *partySession) valuesDigest(m *wire.Reveal) []byte {
	if m.Count == 0 || s.params.threshold() != s.n {
		return nil
	}
	h := sha256.New()
	h.Write([]byte("maskshare aggregates v2"))
	buf := make([]byte, 0, 8*1024)
	for c := range s.cols {
		for _, at := range s.posOf { // s.matches[j] has index j
			buf = binary.LittleEndian.AppendUint64(buf, m.Values[int(at)*(s.cols+checkWords)+c])
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	h.Write(buf)
	return h.Sum(nil)
}

// transcript hashes what every party must agree on: the session, the
// parameters, everyone's keys and size bounds, the result size, the masked
// totals and the digest of the masked aggregates, if any (valuesDigest).
func (s *partySession) transcript(maskedTotals []uint64, valuesDigest []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("maskshare transcript v2"))
	h.Write(s.sid[:])
	h.Write(wire.EncodeParams(&s.wp))
	var b [8]byte
	for _, x := range s.hellos {
		h.Write(x.Key[:])
		binary.BigEndian.PutUint32(b[:4], x.Bound)
		h.Write(b[:4])
	}
	binary.BigEndian.PutUint64(b[:], uint64(s.size))
	h.Write(b[:])
	for _, t := range maskedTotals {
		binary.BigEndian.PutUint64(b[:], t)
		h.Write(b[:])
	}
	h.Write(valuesDigest)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// recv reads the next message, which must be of type want or an Abort.
func (s *partySession) recv(ctx context.Context, want wire.Type) ([]byte, error) {
	msg, err := s.conn.Recv(ctx)
	if err != nil {
		return nil, s.unavailable(err)
	}
	t, err := wire.Peek(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if t == wire.TypeAbort {
		m, err := wire.DecodeAbort(msg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		s.abortedBy = attributeAbort(m, s.session, s.sidKnown, &s.params, s.cfg)
		return nil, s.abortedBy
	}
	if t != want {
		return nil, &CheatingError{Check: "message order", Party: "coordinator", Err: fmt.Errorf("%w: got %v, want %v", ErrProtocol, t, want)}
	}
	return msg, nil
}

// coordinatorFault reports a protocol violation in a message only the
// coordinator produces (the Match, a Reveal, Done) as its deviation, found
// by check: an honest coordinator never sends one. Other errors pass
// through.
func coordinatorFault(check string, err error) error {
	var ce *CheatingError
	var ae *AbortError
	if !errors.Is(err, ErrProtocol) || errors.As(err, &ce) || errors.As(err, &ae) {
		return err
	}
	return &CheatingError{Check: check, Party: "coordinator", Err: err}
}

func (s *partySession) unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: coordinator: %v", ErrPartyUnavailable, err)
}

// forColumns runs f for every column, on all cores.
func forColumns(cols int, f func(c int)) {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for c := range cols {
		g.Go(func() error { f(c); return nil })
	}
	g.Wait()
}

// rangeChunk is the smallest range forRanges gives a goroutine.
const rangeChunk = 1 << 14

// forRanges splits [0, n) into one contiguous range per core (fewer for
// small n) and runs f on each, concurrently.
func forRanges(n int, f func(lo, hi int)) {
	w := max(min(runtime.GOMAXPROCS(0), n/rangeChunk), 1)
	var g errgroup.Group
	for i := range w {
		g.Go(func() error { f(i*n/w, (i+1)*n/w); return nil })
	}
	g.Wait()
}

func deriveKeySlice(group, sid [32]byte, label string) []byte {
	k := deriveKey(group, sid, label)
	return k[:]
}
