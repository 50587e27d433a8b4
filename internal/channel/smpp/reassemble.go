package smpp

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/rabta/rabta/internal/channel"
)

// Limits of the reassembly of long messages from handsets (concatenated deliver_sm).
const (
	// MOMaxParts is the most parts a concatenated message from a handset may claim; a part
	// claiming more is refused. 16 parts are 2,448 GSM characters or 1,072 UCS-2 ones, far
	// beyond any command.
	MOMaxParts = 16
	// MOPartTimeout is how long the parts of an incomplete message are kept, from its first
	// part; a set older than this is dropped (checked whenever a part arrives).
	MOPartTimeout = 60 * time.Second
	// MOMaxPending bounds the incomplete messages kept at once; past it the oldest is dropped.
	MOMaxPending = 1000
)

// Concat is a concatenation header: the 8-bit (IEI 0x00) or 16-bit (IEI 0x08) reference
// information element of 3GPP TS 23.040 §9.2.3.24.1 and §9.2.3.24.8, or the sar_msg_ref_num,
// sar_total_segments and sar_segment_seqnum TLVs of SMPP 3.4 §5.3.2.22–24.
type Concat struct {
	Ref   uint16 // the reference shared by every part (0–255 for IEI 0x00)
	Ref16 bool   // a 16-bit reference (IEI 0x08, or the SAR TLVs)
	Total int    // parts in the message, 1–MOMaxParts
	Seq   int    // this part's number, 1–Total
}

// Check refuses a header whose total is 0 or over MOMaxParts, or whose sequence number is
// outside 1–Total.
func (c Concat) Check() error {
	if c.Total < 1 || c.Total > MOMaxParts {
		return fmt.Errorf("concatenation: %d parts, want 1 to %d", c.Total, MOMaxParts)
	}
	if c.Seq < 1 || c.Seq > c.Total {
		return fmt.Errorf("concatenation: part %d of %d out of range", c.Seq, c.Total)
	}
	return nil
}

// ParseUDH reads a short_message that begins with a user data header (esm_class UDHI 0x40,
// 3GPP TS 23.040 §9.2.3.24): the UDHL octet, then information elements (IEI, length, data).
// It returns the concatenation element, if there is one (found), and the text octets after
// the header. A header longer than the message, or an element running past the header, is
// an error; elements other than 0x00 and 0x08 are skipped; a concatenation element of the
// wrong length is an error. Ranges are not checked here (see Concat.Check).
func ParseUDH(sm []byte) (c Concat, found bool, body []byte, err error) {
	if len(sm) == 0 {
		return c, false, nil, errors.New("user data header: empty short_message")
	}
	udhl := int(sm[0])
	if 1+udhl > len(sm) {
		return c, false, nil, fmt.Errorf("user data header: length %d longer than the %d octets that follow", udhl, len(sm)-1)
	}
	h := sm[1 : 1+udhl]
	for i := 0; i < len(h); {
		if i+2 > len(h) {
			return c, false, nil, fmt.Errorf("user data header: element at octet %d cut short", i+1)
		}
		iei, n := h[i], int(h[i+1])
		if i+2+n > len(h) {
			return c, false, nil, fmt.Errorf("user data header: element 0x%02X of %d octets runs past the header", iei, n)
		}
		v := h[i+2 : i+2+n]
		switch iei {
		case 0x00:
			if n != 3 {
				return c, false, nil, fmt.Errorf("user data header: concatenation element (0x00) of %d octets, want 3", n)
			}
			c, found = Concat{Ref: uint16(v[0]), Total: int(v[1]), Seq: int(v[2])}, true
		case 0x08:
			if n != 4 {
				return c, false, nil, fmt.Errorf("user data header: concatenation element (0x08) of %d octets, want 4", n)
			}
			c, found = Concat{Ref: uint16(v[0])<<8 | uint16(v[1]), Ref16: true, Total: int(v[2]), Seq: int(v[3])}, true
		}
		i += 2 + n
	}
	return c, found, sm[1+udhl:], nil
}

// Part is one part of a concatenated message from a handset.
type Part struct {
	From   string // the sender, E.164: with Concat's reference, what the parts share
	Concat Concat
	Coding byte   // data_coding of this part (SMPP 3.4 §5.2.19)
	Data   []byte // the text octets, without the header
}

// ReassemblyStats counts what a Reassembler did with the parts it was given.
type ReassemblyStats struct {
	Completed  int // messages put together and delivered
	Duplicates int // parts seen before, ignored
	Expired    int // incomplete messages dropped after the timeout
	Evicted    int // incomplete messages dropped because too many were waiting
	Refused    int // parts refused (a bad header, or a total differing from earlier parts)
	Pending    int // incomplete messages waiting now
}

// Reassembler puts concatenated messages back together. Parts are keyed by sender and
// reference, ordered by sequence number; a message is handed back once all its parts are
// there. It keeps at most maxPending incomplete messages, each for at most maxAge from its
// first part. It is safe for concurrent use.
type Reassembler struct {
	maxAge     time.Duration
	maxPending int

	mu    sync.Mutex
	sets  map[setKey]*partSet
	age   *list.List // of setKey, in the order the sets began: the oldest first
	stats ReassemblyStats
}

type setKey struct {
	from  string
	ref   uint16
	ref16 bool
}

type partSet struct {
	first time.Time
	el    *list.Element // in Reassembler.age
	parts [][]byte      // by Seq-1; nil while missing
	codes []byte
	have  int
}

// NewReassembler returns a Reassembler; zero arguments mean MOPartTimeout and MOMaxPending.
func NewReassembler(maxAge time.Duration, maxPending int) *Reassembler {
	if maxAge <= 0 {
		maxAge = MOPartTimeout
	}
	if maxPending <= 0 {
		maxPending = MOMaxPending
	}
	return &Reassembler{maxAge: maxAge, maxPending: maxPending, sets: map[setKey]*partSet{}, age: list.New()}
}

// Add takes one part received at now. When it completes its message, Add returns the text,
// decoded part by part's data_coding (runs of parts in the same coding decoded together, so
// that a character cut between parts survives), and done. A duplicate part is ignored (not
// an error). An error says why a part was refused: a header out of range (Concat.Check), a
// total that differs from the earlier parts', or text that does not decode.
func (r *Reassembler) Add(p Part, now time.Time) (text string, done bool, err error) {
	if err := p.Concat.Check(); err != nil {
		r.mu.Lock()
		r.stats.Refused++
		r.mu.Unlock()
		return "", false, err
	}
	r.mu.Lock()
	r.expire(now)
	k := setKey{p.From, p.Concat.Ref, p.Concat.Ref16}
	s := r.sets[k]
	if s == nil {
		if len(r.sets) >= r.maxPending {
			r.evictOldest()
		}
		s = &partSet{first: now, parts: make([][]byte, p.Concat.Total), codes: make([]byte, p.Concat.Total)}
		s.el = r.age.PushBack(k)
		r.sets[k] = s
	}
	if len(s.parts) != p.Concat.Total {
		r.stats.Refused++
		r.mu.Unlock()
		return "", false, fmt.Errorf("concatenation: part %d claims %d parts, earlier parts said %d", p.Concat.Seq, p.Concat.Total, len(s.parts))
	}
	i := p.Concat.Seq - 1
	if s.parts[i] != nil {
		r.stats.Duplicates++
		r.mu.Unlock()
		return "", false, nil
	}
	s.parts[i], s.codes[i] = append([]byte{}, p.Data...), p.Coding
	s.have++
	if s.have < len(s.parts) {
		r.mu.Unlock()
		return "", false, nil
	}
	r.remove(k, s)
	r.stats.Completed++
	r.mu.Unlock()
	text, err = decodeRuns(s.parts, s.codes)
	if err != nil {
		return "", false, err
	}
	return text, true, nil
}

// expire drops the sets older than maxAge, oldest first (sets are listed in the order
// they began, so this stops at the first young one; should the clock step back, a set
// may outlive the timeout until those before it go — the count bound still holds); r.mu is held.
func (r *Reassembler) expire(now time.Time) {
	for e := r.age.Front(); e != nil; e = r.age.Front() {
		k := e.Value.(setKey)
		s := r.sets[k]
		if now.Sub(s.first) < r.maxAge {
			return
		}
		r.remove(k, s)
		r.stats.Expired++
	}
}

// evictOldest drops the set that began first; r.mu is held.
func (r *Reassembler) evictOldest() {
	if e := r.age.Front(); e != nil {
		k := e.Value.(setKey)
		r.remove(k, r.sets[k])
		r.stats.Evicted++
	}
}

func (r *Reassembler) remove(k setKey, s *partSet) {
	delete(r.sets, k)
	r.age.Remove(s.el)
}

// Stats returns the counts so far.
func (r *Reassembler) Stats() ReassemblyStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Pending = len(r.sets)
	return st
}

// decodeRuns decodes parts in order, joining the octets of consecutive parts in the same
// data_coding before decoding them (GSM 03.38 unpacked for 0, UCS-2 for 8, as gosmpp's
// data.FromDataCoding says for others; unknown codings as GSM 03.38, as gosmpp does).
func decodeRuns(parts [][]byte, codes []byte) (string, error) {
	var out []byte
	for i := 0; i < len(parts); {
		j := i
		var run []byte
		for ; j < len(parts) && codes[j] == codes[i]; j++ {
			run = append(run, parts[j]...)
		}
		enc := data.FromDataCoding(codes[i])
		if enc == nil {
			enc = data.GSM7BIT
		}
		s, err := enc.Decode(run)
		if err != nil {
			return "", fmt.Errorf("parts %d–%d (data_coding %d): %w", i+1, j, codes[i], err)
		}
		out = append(out, s...)
		i = j
	}
	return string(out), nil
}

// ConcatOf reads the concatenation header of a mobile-originated deliver_sm: the UDH's
// concatenation element when esm_class has UDHI (0x40), else the SAR TLVs
// (sar_msg_ref_num 2 octets, sar_total_segments 1, sar_segment_seqnum 1, all three or none).
// It returns found false for a message in one part, and the text octets without the header.
func ConcatOf(p *pdu.DeliverSM) (c Concat, found bool, body []byte, err error) {
	msg, _ := p.Message.GetMessageData()
	if p.EsmClass&data.SM_UDH_GSM != 0 {
		// gosmpp has already split the header off; put it back for ParseUDH
		udh, err := p.Message.UDH().MarshalBinary()
		if err != nil {
			return c, false, nil, fmt.Errorf("user data header: %w", err)
		}
		if len(udh) > 0 {
			return ParseUDH(append(udh, msg...))
		}
	}
	ref, okRef := p.OptionalParameters[pdu.TagSarMsgRefNum]
	tot, okTot := p.OptionalParameters[pdu.TagSarTotalSegments]
	seq, okSeq := p.OptionalParameters[pdu.TagSarSegmentSeqnum]
	if !okRef && !okTot && !okSeq {
		return c, false, msg, nil
	}
	if !okRef || !okTot || !okSeq || len(ref.Data) != 2 || len(tot.Data) != 1 || len(seq.Data) != 1 {
		return c, false, nil, errors.New("sar TLVs: want sar_msg_ref_num (2 octets), sar_total_segments (1) and sar_segment_seqnum (1)")
	}
	return Concat{Ref: uint16(ref.Data[0])<<8 | uint16(ref.Data[1]), Ref16: true, Total: int(tot.Data[0]), Seq: int(seq.Data[0])}, true, msg, nil
}

// reassemble turns a mobile-originated deliver_sm into an Inbound: at once for a message in
// one part; for a part of a concatenated one, only when it completes its message (ok false
// until then). Refusals are logged without the number.
func (s *Sender) reassemble(p *pdu.DeliverSM) (channel.Inbound, bool) {
	now := s.o.Now()
	c, found, body, err := ConcatOf(p)
	if err != nil {
		s.log.Info("smpp_mo_refused", "error", err.Error())
		return channel.Inbound{}, false
	}
	if !found || (c.Total == 1 && c.Seq == 1) {
		in, err := Inbound(p, now)
		if err != nil {
			s.log.Info("smpp_mo_refused", "error", err.Error())
			return in, false
		}
		return in, true
	}
	in, err := inboundAddrs(p, now)
	if err != nil {
		s.log.Info("smpp_mo_refused", "error", err.Error())
		return in, false
	}
	var coding byte
	if enc := p.Message.Encoding(); enc != nil {
		coding = enc.DataCoding()
	}
	before := s.parts.Stats()
	text, done, err := s.parts.Add(Part{From: in.From, Concat: c, Coding: coding, Data: body}, now)
	after := s.parts.Stats()
	if after.Expired > before.Expired || after.Evicted > before.Evicted {
		s.log.Warn("smpp_mo_parts_dropped", "expired", after.Expired-before.Expired, "evicted", after.Evicted-before.Evicted,
			"expired_total", after.Expired, "evicted_total", after.Evicted, "pending", after.Pending)
	}
	if err != nil {
		s.log.Info("smpp_mo_part_refused", "error", err.Error(), "refused_total", after.Refused)
		return in, false
	}
	if !done {
		return in, false
	}
	if !utf8.ValidString(text) {
		s.log.Info("smpp_mo_refused", "error", "concatenated short_message does not decode to text")
		return in, false
	}
	in.Text = text
	return in, true
}

// MOStats returns what the reassembly of long messages from handsets has done so far.
func (s *Sender) MOStats() ReassemblyStats { return s.parts.Stats() }
