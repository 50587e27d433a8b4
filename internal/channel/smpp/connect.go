package smpp

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/linxGnu/gosmpp"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// connector binds a transceiver session for gosmpp. gosmpp v0.3.1's own TRXConnector cannot
// read a refused bind_transceiver_resp: SMPP 3.4 §4.1.6 leaves out the body (system_id) when
// command_status is not ESME_ROK, and gosmpp then fails with a bare EOF instead of the status
// (ESME_RBINDFAIL for a wrong password). This one reads the header first and only parses a
// body that is there.
type connector struct {
	addr    string
	auth    gosmpp.Auth
	timeout time.Duration
	onBound func(smscSystemID string)
}

var _ gosmpp.Connector = connector{}

func (c connector) GetBindType() pdu.BindingType { return pdu.Transceiver }

func (c connector) Connect() (*gosmpp.Connection, error) {
	nc, err := (&net.Dialer{Timeout: c.timeout}).Dial("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	// Bounds the wait for bind_resp; gosmpp sets its own deadline for every later read and write.
	_ = nc.SetDeadline(time.Now().Add(c.timeout))
	conn := gosmpp.NewConnection(nc)
	req := pdu.NewBindRequest(pdu.Transceiver)
	req.SystemID, req.Password, req.SystemType = c.auth.SystemID, c.auth.Password, c.auth.SystemType
	if _, err := conn.WritePDU(req); err != nil {
		_ = nc.Close()
		return nil, err
	}
	for {
		var head [16]byte
		if _, err := io.ReadFull(conn, head[:]); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("read bind_transceiver_resp: %w", err)
		}
		h := pdu.ParseHeader(head)
		if h.CommandLength < 16 || h.CommandLength > data.MAX_PDU_LEN {
			_ = nc.Close()
			return nil, fmt.Errorf("read bind_transceiver_resp: command_length %d out of range", h.CommandLength)
		}
		body := make([]byte, h.CommandLength-16)
		if _, err := io.ReadFull(conn, body); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("read bind_transceiver_resp: %w", err)
		}
		switch h.CommandID {
		case data.BIND_TRANSCEIVER_RESP, data.GENERIC_NACK:
		default:
			continue // gosmpp skips anything else before the response too
		}
		if h.CommandStatus != data.ESME_ROK || h.CommandID == data.GENERIC_NACK {
			_ = nc.Close()
			status := h.CommandStatus
			if status == data.ESME_ROK { // a generic_nack without a reason
				status = data.ESME_RINVCMDID
			}
			return nil, gosmpp.BindError{CommandStatus: status}
		}
		if c.onBound != nil {
			id, _, _ := bytes.Cut(body, []byte{0})
			c.onBound(string(id))
		}
		return conn, nil
	}
}
