package sensorthings

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

type seen struct {
	last  map[int64]time.Time
	infos []sensing.DatastreamInfo
}

func (s seen) LastSeen(context.Context) (map[int64]time.Time, error) { return s.last, nil }
func (s seen) DatastreamInfos(context.Context) ([]sensing.DatastreamInfo, error) {
	return s.infos, nil
}

// RemoteHidden: no remote Datastreams here (TestRemoteDataReadBoundary, internal/node, reads
// the endpoint on a node that has one).
func (s seen) RemoteHidden(context.Context) (*sensing.RemoteHidden, error) { return nil, nil }

// The silent-datastreams endpoint lists, as of the injected clock, the datastreams silent for
// longer than their expected interval, and only those; anonymous reads need PublicRead.
func TestSilent(t *testing.T) {
	now := time.Date(2025, 8, 27, 12, 0, 0, 0, time.UTC)
	hourly := json.RawMessage(`{"qc":{"expectedInterval":"PT1H"}}`)
	s := seen{
		last: map[int64]time.Time{1: now.Add(-3 * time.Hour), 2: now.Add(-30 * time.Minute), 3: now.Add(-5 * time.Hour)},
		infos: []sensing.DatastreamInfo{
			{ID: 1, ObservedPropertyName: "Water level", UnitSymbol: "m", Properties: hourly},
			{ID: 2, ObservedPropertyName: "Water level", UnitSymbol: "m", Properties: hourly},
			{ID: 3, ObservedPropertyName: "Water level", UnitSymbol: "m"}, // no expected interval
		},
	}
	for _, public := range []bool{true, false} {
		st := &Server{PublicRead: public}
		mux := http.NewServeMux()
		st.RegisterQC(mux, s, func() time.Time { return now })
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/qc/silent", nil))
		if !public {
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("anonymous read without PublicRead: %d %s", rec.Code, rec.Body)
			}
			continue
		}
		// the list shape of /api/v1: {"value": [...]}, nothing else
		var list map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list) != 1 || list["value"] == nil {
			t.Fatalf("want {\"value\": [...]}: %d %s", rec.Code, rec.Body)
		}
		var got []struct {
			Datastream int64
			SilentFor  string
		}
		if err := json.Unmarshal(list["value"], &got); err != nil {
			t.Fatalf("%v %s", err, rec.Body)
		}
		if len(got) != 1 || got[0].Datastream != 1 || got[0].SilentFor != "3h0m0s" {
			t.Errorf("silent: %s", rec.Body)
		}
	}
}
