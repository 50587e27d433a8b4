package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
)

// editDraft serves POST /console/alerts/{id}/edit, the queue's edit form for one language of
// a draft (form fields csrf, language, headline, description, instruction, why; at most
// MaxEditFormBytes), through the API's edit path (Server.Edit → httpapi.Server.Edit: approver
// of the alert's organisation; alert.Service.Edit's limits, named in its errors). The three
// texts replace the info's (the form is prefilled with them). Then back to the queue with
// "Alert N edited."; an error is shown on the error page with its status.
func (s *Server) editDraft(w http.ResponseWriter, r *http.Request) {
	if s.Edit == nil {
		s.fail(w, r, http.StatusNotFound, "editing drafts is not available on this node")
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
	field := func(name string) *string {
		v := strings.ReplaceAll(r.PostForm.Get(name), "\r\n", "\n") // a textarea sends CRLF
		return &v
	}
	e := alert.InfoEdit{Language: r.PostForm.Get("language"), Headline: field("headline"), Description: field("description"), Instruction: field("instruction")}
	if _, err := s.Edit(r.Context(), id, why, []alert.InfoEdit{e}); err != nil {
		s.failErr(w, r, err)
		return
	}
	p := auth.FromContext(r.Context())
	s.log().Info("console_edited", "alert", id, "language", e.Language, "key_id", p.KeyID)
	http.Redirect(w, r, fmt.Sprintf("%s/alerts?done=%s", Prefix, urlQueryEscape(fmt.Sprintf("Alert %d edited.", id))), http.StatusSeeOther)
}
