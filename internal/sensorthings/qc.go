package sensorthings

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
)

// Seen is what the quality-control endpoints read: when each datastream last reported, and the
// datastreams' QC settings.
type Seen interface {
	LastSeen(ctx context.Context) (map[int64]time.Time, error)
	DatastreamInfos(ctx context.Context) ([]sensing.DatastreamInfo, error)
	// RemoteHidden is what the reader of ctx (ReadView) may not see of the remote Datastreams
	// (nil: nothing).
	RemoteHidden(ctx context.Context) (*sensing.RemoteHidden, error)
}

// RegisterQC adds the quality-control endpoints to mux: GET /api/v1/qc/silent lists the
// datastreams that have stopped reporting, silent for longer than their QC expected interval as
// of now(), in the list shape of /api/v1: {"value": [{"datastream": 1, "lastSeen": RFC 3339,
// "silentFor": "49h0m0s"}, ...]} (an empty list is {"value": []}). They are read like
// SensorThings data (anonymously when PublicRead is on; otherwise a viewer key, or 401), and
// as there a remote Datastream (a partner's, sensing.RemoteView) is left out for a reader who
// may not read it.
func (s *Server) RegisterQC(mux *http.ServeMux, seen Seen, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	mux.HandleFunc("GET /api/v1/qc/silent", func(w http.ResponseWriter, r *http.Request) { s.silent(w, r, seen, now()) })
}

func (s *Server) silent(w http.ResponseWriter, r *http.Request, seen Seen, now time.Time) {
	if !s.PublicRead {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	last, err := seen.LastSeen(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	infos, err := seen.DatastreamInfos(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	hidden, err := seen.RemoteHidden(ReadView(r.Context()))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	var ls []sensing.LastSeen[int64]
	for _, ds := range infos {
		if !hidden.None() && slices.Contains(hidden.Datastreams, ds.ID) {
			continue // a remote Datastream this reader may not read
		}
		cfg := ingest.ConfigFor(&ds, nil)
		if t, ok := last[ds.ID]; ok && cfg.ExpectedInterval != nil {
			ls = append(ls, sensing.LastSeen[int64]{Datastream: ds.ID, At: t, Expected: *cfg.ExpectedInterval})
		}
	}
	type item struct {
		Datastream int64  `json:"datastream"`
		LastSeen   string `json:"lastSeen"`
		SilentFor  string `json:"silentFor"`
	}
	out := []item{}
	for _, x := range sensing.Silent(now, ls) {
		out = append(out, item{x.Datastream, x.LastSeen.Format(time.RFC3339), x.For.Round(time.Second).String()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}
