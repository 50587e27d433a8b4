package httpapi

import (
	"io"
	"net/http"
	"slices"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/sensing"
)

// registerForecast adds the forecast network routes (docs/forecast.md, "Forecasts in the node").
func (s *Server) registerForecast(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/forecast/network", s.getNetwork)
	mux.HandleFunc("PUT /api/v1/forecast/network", s.putNetwork)
}

// getNetwork returns the node's river network as a forecasting.Document (viewer): stations
// with their Thing, discharge and forecast Datastreams and horizons, reaches with their
// routing parameters. 404 when none is stored.
func (s *Server) getNetwork(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.Error(w, r, err)
		return
	}
	n, err := s.Forecast.Network(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	d, err := forecasting.View(n)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	hidden, err := s.hidden(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, withoutHidden(d, hidden))
}

// withoutHidden is d without the stations on a Thing or Datastream hidden leaves out (a remote
// station the reader may not read: Server.Hidden), the reaches to and from them, and the
// horizons whose path goes through one.
func withoutHidden(d *forecasting.Document, hidden *sensing.RemoteHidden) *forecasting.Document {
	if hidden == nil {
		return d
	}
	gone := map[string]bool{}
	stations := []forecasting.DocStation{}
	for _, st := range d.Stations {
		if slices.Contains(hidden.Things, st.Thing) || slices.Contains(hidden.Datastreams, st.Discharge) || slices.Contains(hidden.Datastreams, st.Forecast) {
			gone[st.ID] = true
			continue
		}
		stations = append(stations, st)
	}
	if len(gone) == 0 {
		return d
	}
	for i := range stations {
		if h := stations[i].Horizon; h != nil && slices.ContainsFunc(h.Path, func(id string) bool { return gone[id] }) {
			stations[i].Horizon = nil
		}
	}
	reaches := []forecasting.DocReach{}
	for _, r := range d.Reaches {
		if !gone[r.From] && !gone[r.To] {
			reaches = append(reaches, r)
		}
	}
	c := *d
	c.Stations, c.Reaches = stations, reaches
	return &c
}

// putNetwork replaces the node's river network with the document in the body (YAML or JSON,
// forecasting.Parse, at most forecasting.MaxDocument bytes): an admin of the organisation that
// owns the stored network (a first one: any admin, whose organisation then owns it), owning
// every Thing and Datastream it names. Errors name the line and the field; nothing is stored
// on error. Answers 200 with the stored network (as GET), its forecast Datastreams made.
func (s *Server) putNetwork(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Admin); err != nil {
		s.Error(w, r, err)
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, forecasting.MaxDocument))
	if err != nil {
		s.Error(w, r, apperr.E(apperr.TooLarge, "forecast network document over the limit of %d bytes", forecasting.MaxDocument))
		return
	}
	n, pos, err := forecasting.Parse(b)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	n.By = auth.FromContext(ctx).Name()
	if err := s.Forecast.Save(ctx, n); err != nil {
		s.Error(w, r, pos.Annotate(err))
		return
	}
	d, err := forecasting.View(n)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
