package sqlite_test

import (
	"testing"

	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// BenchmarkAudit: appending to the audit log (with the head's RSA signature) and verifying 1000 entries.
func BenchmarkAudit(b *testing.B) {
	storetest.BenchAudit(b, func(b *testing.B) sqlq.Engine { eng, _ := open(b); return eng })
}
