package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/rule"
)

func parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{
		"time": func(t any) string {
			switch x := t.(type) {
			case time.Time:
				if x.IsZero() {
					return ""
				}
				return x.UTC().Format("2006-01-02 15:04Z")
			case *time.Time:
				if x == nil {
					return "—"
				}
				return x.UTC().Format("2006-01-02 15:04Z")
			}
			return ""
		},
		"num": func(v any) string {
			switch x := v.(type) {
			case *float64:
				if x == nil {
					return "—"
				}
				return strconv.FormatFloat(math.Round(*x*100)/100, 'f', -1, 64)
			case float64:
				return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
			case int64:
				return strconv.FormatInt(x, 10)
			case int:
				return strconv.Itoa(x)
			}
			return fmt.Sprint(v)
		},
		"join": strings.Join,
		// counts writes a map of counts as "a 1 · b 2", keys sorted
		"counts": func(m any) string {
			v := reflect.ValueOf(m)
			if v.Kind() != reflect.Map || v.Len() == 0 {
				return "none"
			}
			var parts []string
			for _, k := range v.MapKeys() {
				parts = append(parts, fmt.Sprintf("%v %v", k.Interface(), v.MapIndex(k).Interface()))
			}
			slices.Sort(parts)
			return strings.Join(parts, " · ")
		},
	}
	out := map[string]*template.Template{}
	for _, page := range []string{"signin", "error", "map", "station", "alerts", "rules", "agreements", "audit"} {
		out[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+page+".html"))
	}
	return out
}

// page is what every page's layout shows.
type page struct {
	Title   string
	Node    string
	Signed  bool
	Org     string
	Role    string
	CSRF    string
	Nav     string
	Data    any
	Scripts []string
	// NodeAdmin: the key is the node-wide admin (the audit log's link is shown)
	NodeAdmin bool
}

// render writes page name with data; the layout reads the session from r.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	p := page{Node: s.Node, Data: data, Nav: name}
	if ss := current(r.Context()); ss != nil {
		p.Signed, p.Org, p.Role, p.CSRF = true, ss.principal.Organisation, ss.principal.Role.String(), ss.csrf
		p.NodeAdmin = ss.principal.NodeAdmin()
	}
	switch name {
	case "map":
		p.Title, p.Scripts = "Map", []string{"vendor/leaflet.js", "map.js"}
	case "station":
		p.Title, p.Scripts = "Station", []string{"vendor/uPlot.iife.min.js", "station.js"}
	case "alerts":
		p.Title, p.Scripts = "Alerts", []string{"alerts.js"}
	case "rules":
		p.Title = "Rules"
	case "agreements", "audit":
		p.Title = map[string]string{"agreements": "Agreements", "audit": "Audit log"}[name]
	case "signin":
		p.Title = "Sign in"
	default:
		p.Title = "Error"
	}
	var buf bytes.Buffer
	if err := s.tpl[name].Execute(&buf, p); err != nil {
		s.log().Error("console_template_failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// mapPage is the map with the stations table beneath (the table is the page without JS).
func (s *Server) mapPage(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	sts, err := s.stations(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "map", map[string]any{"Stations": sts, "TileURL": s.TileURL, "Poll": s.poll(),
		"Palette": Palette, "Normal": Normal, "NoData": NoData})
}

// stationPage is one gauge: its latest reading, levels and QC counts, and the hydrograph.
func (s *Server) stationPage(w http.ResponseWriter, r *http.Request) {
	se, ok := s.seriesOf(w, r)
	if !ok {
		return
	}
	var flagged []Point
	for _, p := range se.Observations {
		if p.QC != "good" {
			flagged = append(flagged, p)
		}
	}
	if len(flagged) > 50 {
		flagged = flagged[len(flagged)-50:]
	}
	s.render(w, r, http.StatusOK, "station", map[string]any{"S": se, "Flagged": flagged,
		"FlaggedTimes": func(p Point) string { return time.Unix(p.T, 0).UTC().Format("2006-01-02 15:04Z") }})
}

// alertRow is an alert in the queue.
type alertRow struct {
	A         *alert.Alert
	Headline  string
	RuleName  string
	Advisory  string // "" for a flood (or other) warning; else its sector label
	Audiences []string
	Impact    *dissemination.Impact
	Deliver   []deliveryRow
	CanDecide bool
	CanEdit   bool   // CanDecide, with a draft, on a console that can edit (Server.Edit)
	Why       string // why the key cannot decide
}

// deliveryRow is one channel's delivery counts by state.
type deliveryRow struct {
	Channel string
	States  []stateCount
	Total   int64
}

type stateCount struct {
	State string
	N     int64
}

// advisoryLabel is a rule's sector label: "" for a warning to everyone in its area (a flood
// warning); for a sector advisory (a rule with audiences, docs/advisories.md) "Agri" when it
// goes to farmers, else its CAP category (Health, Env …).
func advisoryLabel(r rule.Rule) string {
	if len(r.Audiences) == 0 {
		return ""
	}
	for _, a := range r.Audiences {
		if strings.Contains(a, "farmer") {
			return "Agri"
		}
	}
	if r.Category != "" {
		return r.Category
	}
	return "Advisory"
}

// alertsPage is the queue: drafts with their impact preview and, for an approver of their
// organisation, approve and reject forms; issued alerts with their delivery progress.
func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := auth.Require(ctx, auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	rules, err := s.Rules(ctx)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	byID := map[string]rule.Rule{}
	for _, x := range rules {
		byID[x.ID] = x
	}
	p := auth.FromContext(ctx)
	// what an alert never issued is read by its organisation only (alert.Reader): another
	// organisation's drafts are not listed, and its issued alerts show no draft waiting
	all, org := p.Reads()
	rd := alert.Reader{All: all, Org: org}
	rows := func(st alert.State, limit int) ([]alertRow, error) {
		as, err := s.Alerts.ListAlerts(ctx, alert.Filter{State: st, Limit: limit, Reader: &rd})
		if err != nil {
			return nil, err
		}
		out := make([]alertRow, 0, len(as))
		for _, a := range as {
			if a, err = s.Alerts.GetAlert(ctx, a.ID); err != nil { // with its issued messages
				return nil, err
			}
			if rd.Hides(a) { // what the listing left out (Filter.Reader), checked on what is shown
				continue
			}
			a = rd.Redact(a)
			row := alertRow{A: a}
			ru, ok := byID[a.RuleID]
			row.RuleName = a.RuleID
			if o, shared := alert.ParseThread(a.RuleID); shared { // a partner's alert (docs/federation.md "Alerts")
				row.RuleName = fmt.Sprintf("shared by node %s under agreement %d (its alert %d)", o.Node, o.Agreement, o.Alert)
			}
			if ok {
				row.RuleName = ru.Name
				row.Advisory, row.Audiences = advisoryLabel(ru), ru.Audiences
			}
			switch {
			case a.Draft != nil && len(a.Draft.Infos) > 0:
				row.Headline = a.Draft.Infos[0].Headline
			case len(a.Issued) > 0:
				row.Headline = a.Issued[len(a.Issued)-1].Headline
			}
			switch {
			case p.Role < auth.Approver:
				row.Why = "deciding needs role approver; this key has role " + p.Role.String()
			case !p.Owns(a.Organisation):
				row.Why = fmt.Sprintf("alert of organisation %q; this key is of %q", a.Organisation, p.Organisation)
			default:
				row.CanDecide = true
				row.CanEdit = a.Draft != nil && s.Edit != nil
			}
			if s.Impacts != nil {
				imps, err := s.Impacts(ctx, a.ID)
				if err != nil {
					return nil, err
				}
				k := ""
				if a.Draft == nil && len(a.Issued) > 0 {
					k = a.Issued[len(a.Issued)-1].Identifier
				}
				if b, ok := imps[k]; ok {
					var imp dissemination.Impact
					if json.Unmarshal(b, &imp) == nil {
						row.Impact = &imp
					}
				}
			}
			if s.Progress != nil && len(a.Issued) > 0 {
				cs, err := s.Progress(ctx, a.ID)
				if err != nil {
					return nil, err
				}
				row.Deliver = deliveries(cs)
			}
			out = append(out, row)
		}
		return out, nil
	}
	drafts, err := rows(alert.Draft, 100)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	issued, err := rows(alert.Issued, 100)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	// an issued alert with an Update or Cancel draft waiting (state issued: not in the drafts'
	// listing) is shown with the drafts; for a reader of another organisation it has none
	for _, x := range issued {
		if x.A.Draft != nil {
			drafts = append(drafts, x)
		}
	}
	issued = slices.DeleteFunc(issued, func(x alertRow) bool { return x.A.Draft != nil })
	s.render(w, r, http.StatusOK, "alerts", map[string]any{"Drafts": drafts, "Issued": issued,
		"Notice": r.URL.Query().Get("done"), "Poll": s.poll()})
}

// deliveries groups delivery counts by channel, states in pipeline order.
func deliveries(cs []dissemination.Count) []deliveryRow {
	order := map[string]int{"planned": 0, "queued": 1, "sent": 2, "delivered": 3, "failed": 4}
	by := map[string]*deliveryRow{}
	var chans []string
	for _, c := range cs {
		ch := string(c.Channel)
		if by[ch] == nil {
			by[ch] = &deliveryRow{Channel: ch}
			chans = append(chans, ch)
		}
		d := by[ch]
		i := slices.IndexFunc(d.States, func(x stateCount) bool { return x.State == string(c.State) })
		if i < 0 {
			d.States = append(d.States, stateCount{State: string(c.State)})
			i = len(d.States) - 1
		}
		d.States[i].N += c.N
		d.Total += c.N
	}
	slices.Sort(chans)
	out := make([]deliveryRow, 0, len(chans))
	for _, ch := range chans {
		d := by[ch]
		slices.SortFunc(d.States, func(a, b stateCount) int {
			oa, ok := order[a.State]
			if !ok {
				oa = 9
			}
			ob, ok := order[b.State]
			if !ok {
				ob = 9
			}
			if oa != ob {
				return oa - ob
			}
			return strings.Compare(a.State, b.State)
		})
		out = append(out, *d)
	}
	return out
}

// decide serves POST /console/alerts/{id}/{approve|reject} (form fields csrf, why) through
// the API's decision path (Server.Decide: approver of the alert's organisation, four eyes),
// then back to the queue with what happened.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "approve" && action != "reject" {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no action %q on an alert: want approve or reject", action))
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.failErr(w, r, apperr.E(apperr.Invalid, "alert id %q in the path: want a positive integer", r.PathValue("id")))
		return
	}
	why := strings.TrimSpace(r.PostForm.Get("why"))
	if !utf8.ValidString(why) || utf8.RuneCountInString(why) > MaxWhyLength {
		s.failErr(w, r, apperr.E(apperr.Invalid, "field why: at most %d characters of UTF-8", MaxWhyLength))
		return
	}
	if _, err := s.Decide(r.Context(), action, id, why); err != nil {
		s.failErr(w, r, err)
		return
	}
	p := auth.FromContext(r.Context())
	s.log().Info("console_decided", "alert", id, "action", action, "key_id", p.KeyID)
	done := map[string]string{"approve": "approved", "reject": "rejected"}[action]
	http.Redirect(w, r, fmt.Sprintf("%s/alerts?done=%s", Prefix, urlQueryEscape(fmt.Sprintf("Alert %d %s.", id, done))), http.StatusSeeOther)
}

// rulesPage lists the rules (read-only).
func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request) {
	if err := auth.Require(r.Context(), auth.Viewer); err != nil {
		s.failErr(w, r, err)
		return
	}
	rules, err := s.Rules(r.Context())
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	type row struct {
		R        rule.Rule
		Advisory string
	}
	rows := make([]row, 0, len(rules))
	for _, x := range rules {
		rows = append(rows, row{x, advisoryLabel(x)})
	}
	s.render(w, r, http.StatusOK, "rules", map[string]any{"Rules": rows})
}
