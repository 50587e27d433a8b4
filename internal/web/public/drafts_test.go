package public_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/cap"
)

// An Update draft waiting on an issued warning is its organisation's work (docs/alerts.md
// "Organisations"): the public page, read by anyone, shows the warning as issued — on the
// list and on its own page — and never the draft's text; a first draft has no page at all.
func TestPublicPageWithoutDrafts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st := f.pub.Alerts.(alert.Store)
	a, err := st.GetAlert(ctx, f.ids["ravi"])
	if err != nil || a.State != alert.Issued {
		t.Fatalf("ravi: %+v %v", a, err)
	}
	last, err := cap.Unmarshal(a.Last().XML)
	if err != nil {
		t.Fatal(err)
	}
	d := *last
	d.MsgType, d.Infos = cap.MsgUpdate, append([]cap.Info(nil), last.Infos...)
	for i := range d.Infos {
		d.Infos[i].Headline, d.Infos[i].Description = "DRAFT-ONLY headline", "DRAFT-ONLY description"
	}
	a.Draft, a.DraftType, a.DraftBy, a.Updated = &d, cap.MsgUpdate, "rule:ravi", time.Now()
	if err := st.SaveAlert(ctx, a, alert.Transition{AlertID: a.ID, From: alert.Issued, To: alert.Issued, By: "rule:ravi", Why: "draft Update: DRAFT-ONLY", At: a.Updated}, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/?lang=en", fmt.Sprintf("/alerts/%d?lang=en", f.ids["ravi"])} {
		resp, b := f.get(t, path)
		if resp.StatusCode != 200 || strings.Contains(b, "DRAFT-ONLY") || !strings.Contains(b, fmt.Sprintf("/alerts/%d", f.ids["ravi"])) {
			t.Errorf("%s: %d, shows the draft or not the issued warning:\n%.3000s", path, resp.StatusCode, b)
		}
	}
	if resp, b := f.get(t, fmt.Sprintf("/alerts/%d?lang=en", f.ids["waiting"])); resp.StatusCode != 404 || strings.Contains(b, "DRAFT-ONLY") {
		t.Errorf("a first draft's page: %d", resp.StatusCode)
	}
}
