package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/openapi"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/web/console"
)

// routes is the node's HTTP surface: health and readiness, metrics, the profiler for admins,
// the SensorThings API, quality control and Rabta's own API, behind authentication (with its
// limits), panic recovery and request metrics, all after auth.Proxies has made the request's
// address, Host and scheme trustworthy. /metrics follows the public-read setting.
func (n *Node) routes(authn *auth.Authenticator) http.Handler {
	st := n.sta
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", n.ready)
	metrics := n.metrics.handler()
	if !n.opts.PublicRead {
		metrics = readers(st, metrics)
	}
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/debug/pprof/", adminOnly(st, http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/profile", adminOnly(st, http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/heap", adminOnly(st, pprof.Handler("heap")))
	mux.Handle("/"+sensorthings.Version+"/", st.Handler())
	// the service root answers at /v1.1 too, the same document, not a redirect: many clients
	// and test suites follow none, and a POST cannot be redirected safely
	mux.Handle("/"+sensorthings.Version, st.Handler())
	st.RegisterQC(mux, n.stores.Entities, n.now)
	openapi.Register(mux) // GET /v1.1/api and /api/v1/openapi.json
	n.api.Register(mux)
	n.auditRoutes(mux) // audit.go
	n.wis2Routes(mux)  // wis2.go
	// the operator console (docs/console.md)
	n.console = n.newConsole(authn)
	con := n.console.Handler()
	mux.Handle(console.Prefix, con)
	mux.Handle(console.Prefix+"/", con)
	n.fedRoutes(mux) // /api/v1/federation/… (federation_http.go)
	for pattern, h := range n.handlers {
		mux.Handle(pattern, h)
	}
	if n.public != nil { // the public alert page: GET / and /alerts/{id} (docs/public.md)
		n.public.Register(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && n.public != nil { // GET and HEAD are the public page's
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, r.Method+" / is not allowed: the public alert page answers GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/" { // alerts private: no public page, the SensorThings root instead
			http.Redirect(w, r, "/"+sensorthings.Version+"/", http.StatusFound)
			return
		}
		st.Error(w, r, apperr.E(apperr.NotFound, "no resource at %s; the SensorThings API is at /%s/", r.URL.Path, sensorthings.Version))
	})
	return auth.Proxies(n.opts.TrustedProxies)(auth.RequestID(n.metrics.instrument(authn.Middleware(st.Error)(recoverer(st, mux)))))
}

// ready answers 200 when the store and the bus answer.
func (n *Node) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := n.stores.Ping(ctx); err != nil {
		http.Error(w, "store not ready", http.StatusServiceUnavailable)
		return
	}
	if _, err := n.bus.Stats(ctx); err != nil {
		http.Error(w, "bus not ready", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ready\n")
}

// adminOnly lets only the node-wide admin through (the Go profiler, for operators chasing a
// problem: its goroutine stacks and heap show every organisation's requests, so an admin of one
// organisation may not read them).
func adminOnly(st *sensorthings.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.RequireOwner(r.Context(), auth.Admin, auth.NodeOrganisation, "the Go profiler (/debug/pprof/)"); err != nil {
			st.Error(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readers lets only keys with role viewer or higher through (/metrics when public read is off).
func readers(st *sensorthings.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Require(r.Context(), auth.Viewer); err != nil {
			st.Error(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// recoverer turns a handler's panic into a 500 whose one log line (by st.Error) has the stack.
func recoverer(st *sensorthings.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				st.Error(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack())) // logged once, by st.Error
			}
		}()
		next.ServeHTTP(w, r)
	})
}
