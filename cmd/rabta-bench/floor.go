package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The http-floor target of the compare phase (-compare-floor): a minimal Go net/http server,
// in a process of its own like `rabta serve`, that answers the compare loads' requests with
// no store at all. A write is read, checked to be JSON and answered 201 with a Location; a
// window is answered with a page of 60 observations built once. Its figures are the most any
// Go HTTP server can do on this machine with this client: no SensorThings server written in
// Go can beat them, so they tell whether an aim such as "10× GOST" is physically possible here.

// floorEnv, when set in the environment, makes rabta-bench (or its test binary) serve the
// floor instead of running: it listens on 127.0.0.1 on a free port, writes "http://host:port"
// and a newline on stdout, and serves until killed. Its value is "1" for the http-floor, or
// the store of a durable floor (floorstore.go): "sqlite:PATH" or "postgres:URL".
const floorEnv = "RABTA_BENCH_FLOOR_SERVE"

// floorMaxBody is the largest request body the floor reads (bytes); a larger one is a 413.
const floorMaxBody = 8 << 20

// serveFloorIfAsked serves the floor and never returns when floorEnv is set; otherwise it
// returns at once.
func serveFloorIfAsked() {
	if os.Getenv(floorEnv) == "" {
		return
	}
	var st *floorStore
	if spec := os.Getenv(floorEnv); spec != "1" {
		var err error
		if st, err = openFloorStore(context.Background(), spec); err != nil {
			fmt.Fprintln(os.Stderr, "http-floor:", err)
			os.Exit(1)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "http-floor:", err)
		os.Exit(1)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	err = (&http.Server{Handler: floorHandler(st), ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	fmt.Fprintln(os.Stderr, "http-floor:", err)
	os.Exit(1)
}

// floorHandler answers the compare loads under /v1.1 with no store:
//
//   - POST …/Things: 201, Location …/v1.1/Things(n), n counting from 1;
//   - GET …/Things(n)/Datastreams: one Datastream, @iot.id n;
//   - POST …/Datastreams(id)/Observations: 201, Location …/v1.1/Observations(k);
//   - POST …/CreateObservations: 201 with one Observation link per dataArray row;
//   - GET …/Datastreams(id)/Observations?…: a page of 60 observations (the same bytes each time).
//
// Every POST body is read whole and must be JSON (else 400); anything else is a 404. With a
// store (a durable floor), each Observation written is decoded and committed before its 201
// (a 400 when it lacks phenomenonTime or result, a 503 when the commit fails), and the page
// is read from the store: the newest $top of the $filter's window (400 for another filter).
func floorHandler(st *floorStore) http.Handler {
	var things, obs atomic.Int64
	var page strings.Builder
	page.WriteString(`{"value":[`)
	for i := range 60 {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"@iot.id":%d,"@iot.selfLink":"http://127.0.0.1/v1.1/Observations(%d)","phenomenonTime":"2024-01-01T00:%02d:00Z","resultTime":null,"result":2.%03d}`, i+1, i+1, 59-i, i)
	}
	page.WriteString(`]}`)
	pageBytes := []byte(page.String())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host + "/v1.1"
		p := r.URL.Path
		if r.Method == http.MethodGet {
			switch {
			case strings.HasSuffix(p, "/Datastreams") && strings.Contains(p, "/Things("):
				n := strings.TrimSuffix(p[strings.Index(p, "/Things(")+len("/Things("):], ")/Datastreams")
				if _, err := strconv.ParseInt(n, 10, 64); err != nil {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"value":[{"@iot.id":%s}]}`, n)
			case strings.HasSuffix(p, "/Observations") && st != nil:
				ds, ok := floorStreamID(p)
				if !ok {
					http.NotFound(w, r)
					return
				}
				from, to, top, err := floorWindow(r.URL.Query())
				if err != nil {
					http.Error(w, "http-floor: "+err.Error(), http.StatusBadRequest)
					return
				}
				rows, err := st.window(r.Context(), ds, from, to, top)
				if err != nil {
					http.Error(w, "http-floor: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				bw := bufio.NewWriter(w)
				bw.WriteString(`{"value":[`)
				for i, o := range rows {
					if i > 0 {
						bw.WriteByte(',')
					}
					fmt.Fprintf(bw, `{"@iot.id":%d,"@iot.selfLink":"%s/Observations(%d)","phenomenonTime":"%s","resultTime":null,"result":%s}`,
						o.id, base, o.id, time.UnixMicro(o.time).UTC().Format(time.RFC3339Nano), o.result)
				}
				bw.WriteString(`]}`)
				bw.Flush()
			case strings.HasSuffix(p, "/Observations"):
				w.Header().Set("Content-Type", "application/json")
				w.Write(pageBytes)
			default:
				http.NotFound(w, r)
			}
			return
		}
		if r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, floorMaxBody))
		if err != nil {
			http.Error(w, "http-floor: body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if !json.Valid(body) {
			http.Error(w, "http-floor: the body is not JSON", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(p, "/Things"):
			n := things.Add(1)
			w.Header().Set("Location", base+"/Things("+strconv.FormatInt(n, 10)+")")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"@iot.id":%d}`, n)
		case strings.HasSuffix(p, "/Observations"):
			k := obs.Add(1)
			if st != nil {
				ds, ok := floorStreamID(p)
				if !ok {
					http.NotFound(w, r)
					return
				}
				t, res, err := floorObservation(body)
				if err != nil {
					http.Error(w, "http-floor: Observation: "+err.Error(), http.StatusBadRequest)
					return
				}
				if err := st.write([]floorRow{{id: k, datastream: ds, time: t, result: res}}); err != nil {
					http.Error(w, "http-floor: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
			}
			w.Header().Set("Location", base+"/Observations("+strconv.FormatInt(k, 10)+")")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"@iot.id":%d}`, k)
		case strings.HasSuffix(p, "/CreateObservations"):
			var req []struct {
				DataArray []json.RawMessage `json:"dataArray"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				http.Error(w, "http-floor: CreateObservations: "+err.Error(), http.StatusBadRequest)
				return
			}
			n := 0
			for _, d := range req {
				n += len(d.DataArray)
			}
			var rows []floorRow
			if st != nil {
				if rows, err = floorDataArray(body); err != nil {
					http.Error(w, "http-floor: CreateObservations: "+err.Error(), http.StatusBadRequest)
					return
				}
			}
			first := obs.Add(int64(n)) - int64(n)
			if st != nil {
				for i := range rows {
					rows[i].id = first + int64(i) + 1
				}
				if err := st.write(rows); err != nil {
					http.Error(w, "http-floor: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
			}
			w.WriteHeader(http.StatusCreated)
			bw := bufio.NewWriter(w)
			bw.WriteByte('[')
			for i := range n {
				if i > 0 {
					bw.WriteByte(',')
				}
				fmt.Fprintf(bw, `"%s/Observations(%d)"`, base, first+int64(i)+1)
			}
			bw.WriteByte(']')
			bw.Flush()
		default:
			http.NotFound(w, r)
		}
	})
}

// floorServer is a running http-floor process.
type floorServer struct {
	cmd  *exec.Cmd
	base string // http://host:port
}

// floorStreamID is the id of "…/Datastreams(id)/Observations".
func floorStreamID(path string) (int64, bool) {
	_, rest, ok := strings.Cut(path, "/Datastreams(")
	if !ok {
		return 0, false
	}
	id, ok := strings.CutSuffix(rest, ")/Observations")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}

// startFloor runs this executable again as a floor server (floorEnv: "1", or a durable floor's
// store) and returns it once it has said where it listens. The caller must call kill.
func startFloor(ctx context.Context, store string) (*floorServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	if store == "" {
		store = "1"
	}
	cmd.Env = env(floorEnv + "=" + store)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the http-floor server: %w", err)
	}
	f := &floorServer{cmd: cmd}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		f.kill()
		return nil, fmt.Errorf("the http-floor server did not say where it listens: %q %v", line, err)
	}
	f.base = strings.TrimSpace(line)
	return f, nil
}

// kill stops the floor server and waits for it.
func (f *floorServer) kill() {
	f.cmd.Process.Kill()
	f.cmd.Wait()
}
