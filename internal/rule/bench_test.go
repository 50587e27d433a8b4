package rule

import (
	"fmt"
	"testing"
	"time"
)

func benchRules(n, streams int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		rules[i] = Rule{ID: fmt.Sprintf("r%d", i), Name: "bench", Kind: Threshold, Datastreams: []int64{int64(i%streams + 1)},
			Hysteresis: Margin{Value: 5, Percent: true}, Area: Area{Desc: "bench"},
			Levels: []Level{
				{Name: "Low", Value: 100, Severity: Minor, Urgency: Expected, Certainty: Observed, Event: "Flood"},
				{Name: "High", Value: 200, Severity: Severe, Urgency: Immediate, Certainty: Observed, Event: "Flood"},
			}}
	}
	return rules
}

// BenchmarkObserve1000Rules feeds observations through 1,000 active threshold rules: one
// observation per op, its datastream read by 1000/streams rules. Values wander around the
// levels so that rules fire, escalate and clear. Reported as observations per second.
func BenchmarkObserve1000Rules(b *testing.B) {
	for _, streams := range []int{1000, 100, 10} {
		b.Run(fmt.Sprintf("rules-per-datastream=%d", 1000/streams), func(b *testing.B) {
			e, err := New(benchRules(1000, streams))
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.ResetTimer()
			fired := 0
			for i := range b.N {
				t := t0.Add(time.Duration(i) * time.Second)
				v := float64(50 + (i*37)%220)
				fired += len(e.Observe(t, Obs{Datastream: int64(i%streams + 1), Time: t, Value: v}))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
			b.ReportMetric(float64(fired)/float64(b.N), "triggers/obs")
		})
	}
}
