package apperr

import (
	"encoding/json"
	"net/http"
)

// Body is the JSON body of every error the node's HTTP APIs answer (SensorThings, /api/v1,
// the console's /console/api): {"code", "message", "requestId", "type": "error"}. The fields
// are in the order encoding/json gives a map's keys, the order the bodies always had.
type Body struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
	Type      string `json:"type"`
}

// NewBody returns the error body for status, message msg (what the user may see: Message)
// and request id.
func NewBody(status int, msg, requestID string) Body {
	return Body{Code: status, Message: msg, RequestID: requestID, Type: "error"}
}

// WriteJSON answers status with the error body: one line of JSON, HTML characters not
// escaped, the same on every surface. The one writer of error bodies: the surfaces' Error
// methods decide the status and the message and log, then call it.
func WriteJSON(w http.ResponseWriter, status int, msg, requestID string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(NewBody(status, msg, requestID))
}
