package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlite"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	fs.StringVar(&c.cfg.HTTPAddr, "http-addr", c.cfg.HTTPAddr, "HTTP listen address (env RABTA_HTTP_ADDR)")
	fs.StringVar(&c.cfg.NodeID, "node-id", c.cfg.NodeID, "node id (env RABTA_NODE_ID)")
	fs.BoolVar(&c.cfg.Demo, "demo", false, "seed the demo data set (Punjab rivers, PMD climate, Beijing air) and replay it live")
	fs.Float64Var(&c.cfg.DemoSpeed, "demo-speed", demo.DefaultSpeed, "demo replay speed: data seconds per second")
	fs.BoolVar(&c.cfg.PublicRead, "public-read", c.cfg.PublicRead, "let anonymous clients read SensorThings data (env RABTA_PUBLIC_READ)")
	fs.StringVar(&c.cfg.Log, "log", c.cfg.Log, "log format: json or text (env RABTA_LOG)")
	fs.StringVar(&c.cfg.LogLevel, "log-level", c.cfg.LogLevel, "debug, info, warn or error")
	fs.Int64Var(&c.cfg.MaxBodyBytes, "max-body-size", c.cfg.MaxBodyBytes, "largest request body in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := c.load(fs); err != nil {
		return err
	}
	log := logger(c.cfg, stderr).With("node", c.cfg.NodeID)
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	keys := sqlite.NewAuth(db)
	if err := bootstrapAdmin(ctx, keys, c.cfg.AdminKeyFile, stderr, log); err != nil {
		return err
	}
	ents := sqlite.NewEntities(db, &ingest.QC{Log: log.With("component", "qc")})
	ing := &ingest.Service{Store: ents, Log: log.With("component", "ingest")}
	st := &sensorthings.Server{
		Store: ents, Ingest: ing, Log: log.With("component", "sensorthings"),
		PublicURL: c.cfg.PublicURL, PublicRead: c.cfg.PublicRead,
		MaxBody: c.cfg.MaxBodyBytes, DefaultTop: c.cfg.DefaultTop, MaxTop: c.cfg.MaxTop,
	}
	authn := &auth.Authenticator{Store: keys, Log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			http.Error(w, "store not ready", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ready\n")
	})
	mux.Handle("/"+sensorthings.Version+"/", st.Handler())
	mux.Handle("/"+sensorthings.Version, http.RedirectHandler("/"+sensorthings.Version+"/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /api/v1/qc/silent", silentHandler(ents, st))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/"+sensorthings.Version+"/", http.StatusFound)
			return
		}
		st.Error(w, r, apperr.E(apperr.NotFound, "no resource at %s; the SensorThings API is at /%s/", r.URL.Path, sensorthings.Version))
	})
	handler := authn.Middleware(st.Error)(recoverer(log, st, mux))

	ln, err := net.Listen("tcp", c.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // bulk dataArray bodies may be large
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "http", "http://"+ln.Addr().String()+"/"+sensorthings.Version+"/", "data_dir", c.cfg.DataDir)

	bg, cancelBG := context.WithCancel(ctx)
	defer cancelBG()
	if c.cfg.Demo {
		go func() {
			if err := runDemo(bg, ents, ing, c.cfg.DemoSpeed, log.With("component", "demo")); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("demo_failed", "err", err)
			}
		}()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting_down")
	cancelBG()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http_shutdown", "err", err)
	}
	return nil
}

// bootstrapAdmin makes sure a fresh node has an admin key: RABTA_ADMIN_KEY (or the file) if
// set, otherwise a generated one printed once on stderr.
func bootstrapAdmin(ctx context.Context, keys *sqlite.Auth, file string, stderr io.Writer, log *slog.Logger) error {
	key := os.Getenv("RABTA_ADMIN_KEY")
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("admin_key_file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key != "" {
		id, err := auth.Import(ctx, keys, "admin", auth.Admin, "bootstrap", key)
		if err != nil {
			return fmt.Errorf("RABTA_ADMIN_KEY: %w", err)
		}
		if id != 0 {
			log.Info("admin_key_imported", "key_id", id)
		}
		return nil
	}
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	clear, id, err := auth.Create(ctx, keys, "admin", auth.Admin, "bootstrap")
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "\n  Bootstrap admin API key (shown once, store it now):\n\n    %s\n\n  Use it as: Authorization: Bearer <key>\n\n", clear)
	log.Info("admin_key_created", "key_id", id)
	return nil
}

func recoverer(log *slog.Logger, st *sensorthings.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				st.Error(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// silentHandler lists datastreams that have stopped reporting: silent for longer than their
// QC expected interval.
func silentHandler(ents *sqlite.Entities, st *sensorthings.Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !st.PublicRead {
			if err := auth.Require(r.Context(), auth.Viewer); err != nil {
				st.Error(w, r, err)
				return
			}
		}
		last, err := ents.LastSeen(r.Context())
		if err != nil {
			st.Error(w, r, err)
			return
		}
		infos, err := ents.DatastreamInfos(r.Context())
		if err != nil {
			st.Error(w, r, err)
			return
		}
		var seen []sensing.LastSeen[int64]
		for _, ds := range infos {
			cfg := ingest.ConfigFor(&ds, nil)
			if t, ok := last[ds.ID]; ok && cfg.ExpectedInterval != nil {
				seen = append(seen, sensing.LastSeen[int64]{Datastream: ds.ID, At: t, Expected: *cfg.ExpectedInterval})
			}
		}
		silent := sensing.Silent(time.Now(), seen)
		w.Header().Set("Content-Type", "application/json")
		type item struct {
			Datastream int64  `json:"datastream"`
			LastSeen   string `json:"lastSeen"`
			SilentFor  string `json:"silentFor"`
		}
		out := []item{}
		for _, s := range silent {
			out = append(out, item{s.Datastream, s.LastSeen.Format(time.RFC3339), s.For.Round(time.Second).String()})
		}
		json.NewEncoder(w).Encode(out)
	}
}
