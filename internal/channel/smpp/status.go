package smpp

import (
	"fmt"
	"strings"

	"github.com/linxGnu/gosmpp/data"
)

// StatusError is an SMSC's refusal: a submit_sm_resp or generic_nack with a command_status
// other than ESME_ROK (SMPP 3.4 §5.1.3).
type StatusError struct {
	Command string // "submit_sm"
	Status  data.CommandStatusType
}

func (e *StatusError) Error() string {
	if !known(e.Status) {
		return fmt.Sprintf("smpp %s refused: command_status 0x%08X (reserved or vendor-specific)", e.Command, uint32(e.Status))
	}
	return fmt.Sprintf("smpp %s refused: %s (0x%08X, %s)", e.Command, e.Status, uint32(e.Status), e.Status.Desc())
}

// Transient tells whether a retry later may succeed. The SMPP 3.4 statuses that describe the
// SMSC's or the session's state rather than the message are transient: throttling, a full
// queue, a system error, a session not bound, a temporary application error, a generic
// submit failure, and codes the standard reserves or leaves to vendors (their meaning is
// unknown, so the pipeline's retry limit decides). Every other status says something about
// the message itself (an invalid destination, source, data coding, length, …) and is
// permanent.
func (e *StatusError) Transient() bool {
	switch e.Status {
	case data.ESME_RTHROTTLED, data.ESME_RMSGQFUL, data.ESME_RSYSERR, data.ESME_RINVBNDSTS,
		data.ESME_RX_T_APPN, data.ESME_RSUBMITFAIL, data.ESME_RUNKNOWNERR:
		return true
	}
	return !known(e.Status)
}

// known tells whether gosmpp names the status (its table is SMPP 3.4's Table 5-2 and the
// SMPP 5.0 additions); reserved and vendor-specific codes (0x400–0x4FF) have no name.
func known(s data.CommandStatusType) bool {
	return !strings.HasPrefix(s.String(), "CommandStatusType(")
}
