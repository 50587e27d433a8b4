package apperr

import (
	"bytes"
	"encoding/json"
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

// JSON is the error body for status, msg and requestID as every surface writes it: one line
// of JSON ending in a newline, HTML characters not escaped. The surfaces' Error methods decide
// the status and the message and log, then write these bytes with Content-Type
// application/json; charset=utf-8 (JSONType).
func JSON(status int, msg, requestID string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(NewBody(status, msg, requestID)) // a struct of strings and an int: cannot fail
	return b.Bytes()
}

// JSONType is the Content-Type of an error body.
const JSONType = "application/json; charset=utf-8"
