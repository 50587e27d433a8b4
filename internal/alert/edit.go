package alert

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
)

// AsEdit marks an Author who edited the draft's text (Service.Edit).
const AsEdit = "edit"

// Limits on an edit (Service.Edit), in Unicode code points (runes) of each text.
const (
	MaxEditHeadline    = 200  // CAP 1.2 §3.2.2 asks headlines under 160 characters; 200 leaves room for scripts that need more
	MaxEditDescription = 4000 // description
	MaxEditInstruction = 4000 // instruction
	MaxEdits           = 10   // InfoEdits in one edit
)

// InfoEdit changes the texts of the draft's <info> whose CAP language tag (info/language) is
// Language; a nil field is left as it is, a non-nil one replaces it. Headline must not be
// empty (at most MaxEditHeadline runes); Description and Instruction may be emptied (at most
// MaxEditDescription and MaxEditInstruction runes).
type InfoEdit struct {
	Language    string  `json:"language"`
	Headline    *string `json:"headline,omitempty"`
	Description *string `json:"description,omitempty"`
	Instruction *string `json:"instruction,omitempty"`
}

// Edit changes the headline, description and/or instruction of alert id's waiting draft (a
// first Alert, an Update or a Cancel draft), one InfoEdit per <info> by its language, and
// returns the alert as saved. by becomes one of the draft's Authors (As AsEdit): with four
// eyes on, the editor then cannot approve it (fourEyes: "edited it"). why is required; the
// edit is recorded as a transition from the alert's state to itself (Draft→Draft for a first
// draft), Why "edited: <why>". A later trigger that replaces the draft replaces the edited
// texts too, but keeps the editor among its authors (mergeAuthors).
//
// Errors (apperr kinds): NotFound for no such alert; Conflict when it has no draft; Invalid
// when why is empty, there are no edits or more than MaxEdits, a language appears twice or
// is not one of the draft's (the error names it and the draft's), a limit is passed (named
// with its field, e.g. "infos[0].headline"), or the edited draft would not be valid CAP 1.2
// (cap.Validate, with the identifier, sender and sent issuing would give it).
func (s *Service) Edit(ctx context.Context, id int64, by, why string, edits []InfoEdit) (*Alert, error) {
	var a *Alert
	err := s.locked(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.edit(ctx, id, by, why, edits)
		return err
	})
	return a, err
}

// CheckEdits applies Edit's limits that do not depend on the draft (why, count, lengths,
// duplicate languages), so a caller can refuse bad input before looking the alert up.
func CheckEdits(why string, edits []InfoEdit) error {
	if strings.TrimSpace(why) == "" {
		return apperr.E(apperr.Invalid, "why: an edit needs a reason")
	}
	if len(edits) == 0 {
		return apperr.E(apperr.Invalid, "infos: nothing to edit; give at least one {\"language\": ..., \"headline\"|\"description\"|\"instruction\": ...}")
	}
	if len(edits) > MaxEdits {
		return apperr.E(apperr.Invalid, "infos: %d edits, over the limit of %d", len(edits), MaxEdits)
	}
	seen := map[string]bool{}
	for i, e := range edits {
		f := fmt.Sprintf("infos[%d]", i)
		if e.Language == "" {
			return apperr.E(apperr.Invalid, "%s.language: required", f)
		}
		if seen[strings.ToLower(e.Language)] {
			return apperr.E(apperr.Invalid, "%s.language: %q is edited twice", f, e.Language)
		}
		seen[strings.ToLower(e.Language)] = true
		if e.Headline == nil && e.Description == nil && e.Instruction == nil {
			return apperr.E(apperr.Invalid, "%s: nothing to change for language %q (give headline, description or instruction)", f, e.Language)
		}
		for _, c := range []struct {
			name  string
			text  *string
			limit int
		}{{"headline", e.Headline, MaxEditHeadline}, {"description", e.Description, MaxEditDescription}, {"instruction", e.Instruction, MaxEditInstruction}} {
			if c.text == nil {
				continue
			}
			if !utf8.ValidString(*c.text) {
				return apperr.E(apperr.Invalid, "%s.%s: not UTF-8", f, c.name)
			}
			if n := utf8.RuneCountInString(*c.text); n > c.limit {
				return apperr.E(apperr.Invalid, "%s.%s: %d characters, over the limit of %d", f, c.name, n, c.limit)
			}
		}
		if e.Headline != nil && strings.TrimSpace(*e.Headline) == "" {
			return apperr.E(apperr.Invalid, "%s.headline: must not be empty", f)
		}
	}
	return nil
}

func (s *Service) edit(ctx context.Context, id int64, by, why string, edits []InfoEdit) (*Alert, error) {
	if err := CheckEdits(why, edits); err != nil {
		return nil, err
	}
	a, err := s.Store.GetAlert(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Draft == nil {
		return nil, apperr.E(apperr.Conflict, "alert %d has no draft to edit (state %s)", id, a.State)
	}
	// a copy: the stored draft may be shared (a cache, the caller's); only string fields of
	// the copied infos change, so their slices may stay shared
	msg := *a.Draft
	msg.Infos = append([]cap.Info(nil), a.Draft.Infos...)
	var langs []string
	for _, in := range msg.Infos {
		langs = append(langs, in.Language)
	}
	for i, e := range edits {
		j := -1
		for k := range msg.Infos {
			if strings.EqualFold(msg.Infos[k].Language, e.Language) {
				j = k
				break
			}
		}
		if j < 0 {
			return nil, apperr.E(apperr.Invalid, "infos[%d].language: alert %d's draft has no info in %q; it has %s", i, id, e.Language, strings.Join(langs, ", "))
		}
		in := &msg.Infos[j]
		if e.Headline != nil {
			in.Headline = *e.Headline
		}
		if e.Description != nil {
			in.Description = *e.Description
		}
		if e.Instruction != nil {
			in.Instruction = *e.Instruction
		}
	}
	// still valid CAP: check it as issuing will (cap.Builder validates what issue builds),
	// with what issue fills in
	now := s.now()
	trial := msg
	trial.Identifier = fmt.Sprintf("rabta-%s-%d-%d", s.Config.Node, a.ID, len(a.Issued)+1)
	trial.Sender, trial.Sent, trial.MsgType, trial.References = s.sender(), now.Truncate(1e9), cap.MsgAlert, nil
	if err := cap.Validate(&trial); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "alert %d: the edited draft is not valid CAP", id)
	}
	from := a.State
	a.Draft, a.Updated = &msg, now
	if au := (Author{Name: by, As: AsEdit}); !hasAuthor(a.Authors, au) {
		a.Authors = append(a.Authors, au)
	}
	if err := s.Store.SaveAlert(ctx, a, Transition{AlertID: id, From: from, To: a.State, By: by, Why: "edited: " + why, At: now}, nil); err != nil {
		return nil, err
	}
	s.log().Info("alert_edited", "alert", id, "infos", len(edits))
	return a, nil
}

func hasAuthor(as []Author, a Author) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}
