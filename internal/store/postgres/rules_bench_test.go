package postgres_test

import (
	"testing"

	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// BenchmarkRulesPoll: a poll for rules saved by another process, by reading every rule
// (LoadRules) or the version only (RulesVersion), with 100 rules stored.
func BenchmarkRulesPoll(b *testing.B) {
	eng, _ := open(b)
	storetest.BenchRulesPoll(b, sqlq.NewAlerts(eng), 100)
}
