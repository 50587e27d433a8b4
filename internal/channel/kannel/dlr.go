package kannel

import (
	"crypto/hmac"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/channel"
)

// DLR is one delivery report as Kannel calls it back on a URL made by DLRURL.
type DLR struct {
	DeliveryID int64
	// Type is one of DLRDelivered, DLRFailed, DLRBuffered, DLRSMSCSubmit, DLRSMSCReject.
	Type int
	// Reply is what the SMSC said (Kannel's %A), e.g. "ACK/" or an SMPP receipt text
	// "id:… stat:DELIVRD err:000 …"; often empty.
	Reply string
	// SMSCID is the SMSC's id for the message (Kannel's %F), "" when it gave none.
	SMSCID string
	// At is the report's time (Kannel's %T); zero when absent.
	At time.Time
}

// typeName is a report type's word in channel.Report.Status, "" for none. Kannel may set
// bits beyond the five (DLR_EXPIRED is 0x22, DLR_UNKNOWN 0x42): the first of the five that
// is set, in this order, names it.
func typeName(t int) string {
	switch {
	case t&DLRDelivered != 0:
		return "delivered"
	case t&DLRFailed != 0:
		return "failed"
	case t&DLRSMSCReject != 0:
		return "smsc_reject"
	case t&DLRBuffered != 0:
		return "buffered"
	case t&DLRSMSCSubmit != 0:
		return "smsc_submit"
	}
	return ""
}

// Report is d in the channel's terms: Delivered for type 1, Failed for 2 and 16, Submitted
// (the operator has it) for 1, 4 and 8 (see typeName for types with several bits). Status
// is the type's word ("delivered", "failed", "buffered", "smsc_submit", "smsc_reject"),
// followed by ": " and the SMSC's reply when there is one.
func (d DLR) Report() channel.Report {
	name := typeName(d.Type)
	status := name
	if d.Reply != "" {
		status += ": " + d.Reply
	}
	return channel.Report{
		DeliveryID: d.DeliveryID, GatewayID: d.SMSCID, Status: status, At: d.At,
		Submitted: name == "smsc_submit" || name == "buffered" || name == "delivered",
		Delivered: name == "delivered",
		Failed:    name == "failed" || name == "smsc_reject",
	}
}

// ParseDLR reads a report from the query DLRURL made, after Kannel filled in its escapes:
// id (decimal delivery id), type (1, 2, 4, 8 or 16, possibly with other bits), reply,
// smsc_id and ts (Unix seconds).
// It does not check the token (DLRHandler does). An error names the parameter at fault.
func ParseDLR(q url.Values) (DLR, error) {
	var d DLR
	id := q.Get("id")
	if id == "" {
		return d, fmt.Errorf("id: missing")
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strings.Trim(id, "0123456789") != "" {
		return d, fmt.Errorf("id: %q is not a delivery id", truncate(id))
	}
	d.DeliveryID = n
	t := q.Get("type")
	if t == "" {
		return d, fmt.Errorf("type: missing")
	}
	d.Type, err = strconv.Atoi(t)
	if err != nil || d.Type < 1 || d.Type > 255 || typeName(d.Type) == "" || strings.Trim(t, "0123456789") != "" {
		return d, fmt.Errorf("type: %q is not a DLR type (1, 2, 4, 8 or 16)", truncate(t))
	}
	d.Reply = q.Get("reply")
	if len(d.Reply) > 512 {
		return d, fmt.Errorf("reply: longer than 512 bytes")
	}
	d.SMSCID = q.Get("smsc_id")
	if len(d.SMSCID) > 128 {
		return d, fmt.Errorf("smsc_id: longer than 128 bytes")
	}
	if ts := q.Get("ts"); ts != "" && ts != "%T" {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sec < 0 || sec > 1<<40 {
			return d, fmt.Errorf("ts: %q is not a Unix time", truncate(ts))
		}
		d.At = time.Unix(sec, 0).UTC()
	}
	return d, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// readCallback reads a gateway callback's query or form (GET, or POST with a form body of at
// most limit bytes) into r.Form. On a wrong method (405, with Allow) or a malformed or
// oversized request (400) it answers and returns false.
func readCallback(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed query or form", http.StatusBadRequest)
		return false
	}
	return true
}

// DLRHandler serves Kannel's dlr-url callbacks (GET, or POST with a form) made by a
// Sender with the same secret: it checks the token against the delivery id in constant
// time, parses the report (ParseDLR) and calls fn with its channel.Report. It answers 200
// "ok"; 400 naming the parameter for a malformed request; 403 for a wrong token; 405 for
// other methods. log may be nil; tokens and numbers are never logged.
func DLRHandler(secret string, fn channel.ReportFunc, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readCallback(w, r, 8<<10) {
			return
		}
		d, err := ParseDLR(r.Form)
		if err != nil {
			log.Info("dlr_refused", "error", err.Error())
			http.Error(w, "bad DLR: "+err.Error(), http.StatusBadRequest)
			return
		}
		token := r.Form.Get("token")
		if token == "" {
			http.Error(w, "bad DLR: token: missing", http.StatusBadRequest)
			return
		}
		if !hmac.Equal([]byte(strings.ToLower(token)), []byte(Token(secret, d.DeliveryID))) {
			log.Warn("dlr_forbidden", "delivery", d.DeliveryID)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if d.At.IsZero() {
			d.At = time.Now().UTC()
		}
		fn(d.Report())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}
