package exercise_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/exercise"
)

// BenchmarkExerciseSeason2025 replays the whole 2025 monsoon season of the demo (5 Jul – mid
// Oct 2025, every PDMA report of 18 gauges) at maximum speed with a simulated approver (30 min)
// and the full embedded places: wall time per run, and readings per second of the replay
// (seeding and report excluded from the latter). Run it with
//
//	go test -run XXX -bench ExerciseSeason2025 -benchtime 1x ./internal/exercise/
func BenchmarkExerciseSeason2025(b *testing.B) {
	from := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	h, err := exercise.Demo(from, to)
	if err != nil {
		b.Fatal(err)
	}
	var perSecond float64
	for i := 0; b.Loop(); i++ {
		rep, err := exercise.Run(context.Background(), exercise.Options{From: from, To: to, History: h,
			Workspace: filepath.Join(b.TempDir(), "ws"), ApproveAfter: 30 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		perSecond = rep.ObsPerSecond
		b.Logf("%d readings, replay %s (%.0f readings/s), %d alerts, %d missed, %d unapproved",
			rep.Observations, rep.Wall, rep.ObsPerSecond, len(rep.Alerts), len(rep.Missed), len(rep.Unapproved))
	}
	b.ReportMetric(perSecond, "readings/s")
}
