package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// BenchIngest measures Ingest of batches of size observations (10 datastreams, one reading a
// minute each) on a store seeded with the suite's two gauges plus eight more Datastreams;
// it reports observations per second. Both stores run it on the same rows.
func BenchIngest(b *testing.B, s Stores, size int) {
	b.Helper()
	s.Configure(&Checker{}, true, "bench", nil)
	for i := range 5 {
		g := fmt.Sprintf(`{"name":"g%d","description":"d","Locations":[{"name":"l","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73,32]}}],
		 "Datastreams":[{"name":"a%d","description":"d","observationType":"o","unitOfMeasurement":{"symbol":"m"},"Sensor":{"name":"s","description":"d","encodingType":"text/plain","metadata":"m"},"ObservedProperty":{"name":"Level","definition":"d","description":"d"}},
		 {"name":"b%d","description":"d","observationType":"o","unitOfMeasurement":{"symbol":"m"},"Sensor":{"@iot.id":%d},"ObservedProperty":{"@iot.id":%d}}]}`, i, i, i, i+1, i+1)
		if _, err := s.Entities.Create(ctx(), entity(b, sensing.Things, g)); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]sensing.Observation, size)
		for j := range batch {
			v := float64(n%1000) / 10
			t := start.Add(time.Duration(n/10) * time.Minute)
			batch[j] = sensing.Observation{DatastreamID: int64(n%10 + 1), PhenStart: t, PhenEnd: t, PhenText: t.Format(time.RFC3339), ResultNum: &v}
			n++
		}
		_, errs, err := s.Entities.Ingest(ctx(), batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "obs/s")
}
