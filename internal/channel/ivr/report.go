package ivr

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/channel"
)

// Token is the callback token of one delivery: hex HMAC-SHA256(secret, delivery id in
// decimal).
func Token(secret string, delivery int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(delivery, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// statuses maps a call report's status to delivered (true) or failed (false).
var statuses = map[string]bool{"answered": true, "completed": true, "busy": false, "no-answer": false, "failed": false, "rejected": false}

// ParseReport reads a gateway's call report: a JSON object {"delivery": <positive integer>,
// "status": one of answered, completed, busy, no-answer, failed, rejected (any case), "id":
// optional call id}; other members are ignored. An error names the member at fault.
func ParseReport(body []byte) (channel.Report, error) {
	var r struct {
		Delivery json.Number `json:"delivery"`
		Status   string      `json:"status"`
		ID       any         `json:"id"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return channel.Report{}, fmt.Errorf("body: not a JSON object with delivery and status")
	}
	id, err := strconv.ParseInt(r.Delivery.String(), 10, 64)
	if err != nil || id <= 0 {
		return channel.Report{}, fmt.Errorf("delivery: %q is not a delivery id", clip([]byte(r.Delivery.String())))
	}
	st := strings.ToLower(strings.TrimSpace(r.Status))
	ok, known := statuses[st]
	if !known {
		return channel.Report{}, fmt.Errorf("status: %q is not one of answered, completed, busy, no-answer, failed, rejected", clip([]byte(r.Status)))
	}
	rep := channel.Report{DeliveryID: id, Submitted: true, Delivered: ok, Failed: !ok, Status: "call " + st, At: time.Now().UTC()}
	if r.ID != nil {
		rep.GatewayID = clip([]byte(fmt.Sprint(r.ID)))
	}
	return rep, nil
}

// ReportHandler serves the callback: POST with ?token=<Token(secret, delivery)> and a report
// body (ParseReport) of at most 4 KiB. 400 for a body it cannot read, 403 for a token that is
// not the delivery's; fn gets each accepted report.
func ReportHandler(secret string, fn channel.ReportFunc, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
		if err != nil {
			http.Error(w, "bad report: body over 4 KiB", http.StatusBadRequest)
			return
		}
		rep, err := ParseReport(body)
		if err != nil {
			http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !hmac.Equal([]byte(strings.ToLower(r.URL.Query().Get("token"))), []byte(Token(secret, rep.DeliveryID))) {
			log.Warn("ivr_report_forbidden", "delivery", rep.DeliveryID)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fn(rep)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
}
