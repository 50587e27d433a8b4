package exercise

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestTry(t *testing.T) {
	from := time.Date(2025, 8, 24, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 8, 29, 0, 0, 0, 0, time.UTC)
	h, err := Demo(from, to)
	if err != nil {
		t.Fatal(err)
	}
	ws := "/tmp/fcC/ws1"
	os.RemoveAll(ws)
	os.WriteFile("/tmp/fcC/rec.csv", []byte("name,language,audiences,place,lat,lon,radius_km,phone,email,webhook,webhook_secret,consent_source,consent_at\nKhanki drill,en,exercise,,32.40,73.97,10,+923001112233,,,,drill,2026-06-01T09:00:00Z\nKhanki public,en,public,,32.40,73.97,10,+923001112244,,,,form,2026-06-01T09:00:00Z\n"), 0o600)
	start := time.Now()
	rep, err := Run(context.Background(), Options{From: from, To: to, History: h, Workspace: ws, ApproveAfter: 30 * time.Minute,
		Recipients: "/tmp/fcC/rec.csv", Progress: os.Stderr, Console: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v obs %d took %v", rep.Wall, rep.Observations, time.Since(start))
}
