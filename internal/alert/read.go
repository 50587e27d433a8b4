package alert

// Who reads what was never issued (docs/alerts.md "Organisations"). What an alert issued is
// public, or as public as the node's alert setting makes it. What it never issued — a draft
// waiting (a first Alert, or an Update or Cancel waiting on an issued alert), and an alert
// withdrawn or rejected before any message was issued — is its organisation's internal work,
// and may name a station and a deciding value that only that organisation may read (a rule
// on a partner's remote Datastream, docs/federation.md): it is read by viewers of the alert's
// organisation and by the node-wide admin only. Every surface that shows alerts asks a Reader:
// the REST API, the operator console, and the store's listing (Filter.Reader), so that a
// listing's limit counts only what its reader sees.

// Reader is who reads alerts, as far as what was never issued goes: All for one who reads
// every organisation's (the node-wide admin), else a viewer or higher of Org; Org "" for no
// organisation's (anonymous, a role below viewer). auth.Principal.Reads gives both.
type Reader struct {
	All bool
	Org string
}

// ReadsDrafts reports whether r reads what alerts of organisation org never issued.
func (r Reader) ReadsDrafts(org string) bool {
	return r.All || (r.Org != "" && r.Org == org)
}

// Hides reports whether alert a is hidden from r altogether: it never issued a message and is
// of an organisation whose drafts r does not read. a must carry its messages (Store.GetAlert);
// a single read of a hidden alert answers NotFound, as for one that does not exist.
func (r Reader) Hides(a *Alert) bool {
	return len(a.Issued) == 0 && !r.ReadsDrafts(a.Organisation)
}

// Redact returns alert a as r reads it: a itself when r reads its organisation's drafts; for
// another reader, a copy without the draft waiting on it (its text, type, drafter and
// authors), with the level and time of what it issued (a.Shown) instead of the draft's: a
// waiting escalation's level is set when it is drafted, and drafting moves Updated.
func (r Reader) Redact(a *Alert) *Alert {
	if r.ReadsDrafts(a.Organisation) {
		return a
	}
	c := *a
	c.Draft, c.DraftType, c.DraftBy, c.Authors = nil, "", "", nil
	c.Level, c.LevelName, c.Updated = a.Shown.Level, a.Shown.LevelName, a.Shown.Updated
	return &c
}

// Steps returns the transitions of an alert of organisation org that r reads: all of them
// for a reader of its drafts; for another, only those that issued a message and the expiry
// of an issued one. Drafting, editing and rejecting a draft are the organisation's work, and
// their reasons name the values that decided a draft.
func (r Reader) Steps(org string, ts []Transition) []Transition {
	if r.ReadsDrafts(org) {
		return ts
	}
	var out []Transition
	for _, t := range ts {
		if Visible(t) {
			out = append(out, t)
		}
	}
	return out
}
