package httpapi

import (
	"io"
	"net/http"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/forecasting"
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
	writeJSON(w, http.StatusOK, d)
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
