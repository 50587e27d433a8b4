package smpp

import (
	"fmt"
	"strings"
)

// DeliveryReceipt is the content of an SMSC delivery receipt: a deliver_sm whose esm_class
// says "SMSC delivery receipt" (SMPP 3.4 §5.2.12, message type bits 0x04). Its text has the
// suggested format of SMPP 3.4 Appendix B:
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:…
//
// which SMSCs follow loosely (field order, case and widths vary, some omit fields); the
// receipted_message_id and message_state TLVs (§5.3.2.12, §5.3.2.35), when present, take
// precedence over the text.
type DeliveryReceipt struct {
	ID         string // the message_id the SMSC gave in its submit_sm_resp
	Submitted  string // "sub:", as written
	Delivered  string // "dlvrd:", as written
	SubmitDate string // "submit date:" YYMMDDhhmm[ss], as written
	DoneDate   string // "done date:"
	Stat       string // DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE
	Err        string // network-specific error code, as written
	Text       string // the first characters of the message
}

// Final tells whether Stat is a final state and whether it means delivered: DELIVRD is
// delivered; EXPIRED, DELETED, UNDELIV and REJECTD are failures; ACCEPTD, ENROUTE, UNKNOWN
// and anything else are not final.
func (r DeliveryReceipt) Final() (delivered, failed bool) {
	switch r.Stat {
	case "DELIVRD":
		return true, false
	case "EXPIRED", "DELETED", "UNDELIV", "REJECTD":
		return false, true
	}
	return false, false
}

// messageStates maps the message_state TLV's values (SMPP 3.4 §5.2.28) to the receipt words.
var messageStates = map[byte]string{
	1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD",
}

// receiptKeys are the receipt text's field names, longest first so that "submit date" is
// not read as "sub".
var receiptKeys = []string{"submit date", "done date", "dlvrd", "stat", "text", "sub", "err", "id"}

// ParseReceipt reads a delivery receipt's text. Keys are matched without regard to case,
// wherever a word starts; a value runs to the next key (text: runs to the end). It fails
// when there is no id or no stat, naming what is missing.
func ParseReceipt(text string) (DeliveryReceipt, error) {
	var r DeliveryReceipt
	lower := asciiCase(text, 'A', 'Z', 'a'-'A') // byte for byte, so that indexes agree with text
	type hit struct {
		key        string
		start, val int // the key's start, its value's start
	}
	var hits []hit
	for i := 0; i < len(lower); i++ {
		if i > 0 && lower[i-1] != ' ' {
			continue
		}
		for _, k := range receiptKeys {
			if strings.HasPrefix(lower[i:], k+":") {
				hits = append(hits, hit{k, i, i + len(k) + 1})
				i += len(k)
				break
			}
		}
		if len(hits) > 0 && hits[len(hits)-1].key == "text" {
			break // the message's own words may look like keys
		}
	}
	for j, h := range hits {
		end := len(text)
		if j+1 < len(hits) {
			end = hits[j+1].start
		}
		v := text[h.val:end]
		if h.key != "text" {
			v = strings.TrimSpace(v)
		}
		switch h.key {
		case "id":
			r.ID = v
		case "sub":
			r.Submitted = v
		case "dlvrd":
			r.Delivered = v
		case "submit date":
			r.SubmitDate = v
		case "done date":
			r.DoneDate = v
		case "stat":
			r.Stat = asciiCase(v, 'a', 'z', 'A'-'a')
		case "err":
			r.Err = v
		case "text":
			r.Text = v
		}
	}
	var missing []string
	if r.ID == "" {
		missing = append(missing, "id")
	}
	if r.Stat == "" {
		missing = append(missing, "stat")
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("delivery receipt %q: no %s", clip(text, 80), strings.Join(missing, " and no "))
	}
	return r, nil
}

// asciiCase shifts the ASCII letters from..to by delta, leaving every other byte alone.
func asciiCase(s string, from, to byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if c >= from && c <= to {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
