package forecasting_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// BenchmarkHandle: what the node does with one new upstream reading — the forecaster's update
// for everything downstream of it and the ingest of the forecast points (QC, SQLite, outbox
// off) — on the demo network (forecast.PunjabIndusModel) tied to the demo's gauges, restored
// with the 2025 season's reports up to 25 Aug 2025; each iteration a new reading at Marala (the
// Chenab's top: Khanki, Qadirabad, Trimmu, Panjnad, Guddu … downstream). Reports the median
// and 99th percentile of one Handle, and of the update alone (rabta_forecast_update_seconds).
func BenchmarkHandle(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "rabta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ents := sqlite.NewEntities(db, &ingest.QC{})
	ds, err := demo.Load()
	if err != nil {
		b.Fatal(err)
	}
	ids, err := demo.Seed(ctx, ents, ds)
	if err != nil {
		b.Fatal(err)
	}
	infos, err := ents.DatastreamInfos(ctx)
	if err != nil {
		b.Fatal(err)
	}
	thing := map[int64]int64{}
	for _, in := range infos {
		thing[in.ID] = in.ThingID
	}
	net, err := demo.ForecastNetwork(ids, func(d int64) (int64, error) { return thing[d], nil })
	if err != nil {
		b.Fatal(err)
	}
	// the season so far, stored as the node would have it
	upTo := time.Date(2025, 8, 25, 0, 0, 0, 0, time.UTC)
	for _, s := range ds.Series {
		if !strings.HasPrefix(s.Key, "pdma-") || !strings.HasSuffix(s.Key, "/discharge") {
			continue
		}
		var obs []sensing.Observation
		for _, o := range s.Obs {
			if o.Time.Year() == 2025 && o.Time.Before(upTo) {
				obs = append(obs, demo.Observations(ids[s.Key], demo.Batch{Obs: []demo.Obs{o}})...)
			}
		}
		if _, _, err := ents.Ingest(ctx, obs); err != nil {
			b.Fatal(err)
		}
	}
	var now time.Time
	var updates []time.Duration
	stations := 0
	points := &counting{Ingester: &ingest.Service{Store: ents}}
	svc := &forecasting.Service{Store: ents, Ingest: points, Now: func() time.Time { return now },
		OnUpdate: func(d time.Duration, n int) { updates, stations = append(updates, d), stations+n }}
	now = upTo
	if err := svc.Save(ctx, net); err != nil {
		b.Fatal(err)
	}
	marala, _ := net.Station("marala")
	var handles []time.Duration
	b.ResetTimer()
	for i := range b.N {
		at := upTo.Add(time.Duration(i) * time.Hour)
		now = at.Add(time.Minute)
		batch := &sensing.ObsBatch{Datastream: marala.Discharge, Obs: []sensing.ObsItem{{End: at, Start: at, Result: []byte("250000")}}}
		start := time.Now()
		if err := svc.Handle(ctx, batch); err != nil {
			b.Fatal(err)
		}
		handles = append(handles, time.Since(start))
	}
	b.StopTimer()
	if points.n == 0 {
		b.Fatal("no forecast point ingested")
	}
	b.ReportMetric(float64(stations)/float64(b.N), "stations/op")
	b.ReportMetric(float64(points.n)/float64(b.N), "points/op")
	q := func(ds []time.Duration, p float64) float64 {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(handles, 0.5), "handle-p50-ms")
	b.ReportMetric(q(handles, 0.99), "handle-p99-ms")
	b.ReportMetric(q(updates, 0.5), "update-p50-ms")
	b.ReportMetric(q(updates, 0.99), "update-p99-ms")
}

// counting counts the observations ingested.
type counting struct {
	forecasting.Ingester
	n int
}

func (c *counting) Ingest(ctx context.Context, source string, obs []sensing.Observation) ([]int64, []error, error) {
	c.n += len(obs)
	return c.Ingester.Ingest(ctx, source, obs)
}
