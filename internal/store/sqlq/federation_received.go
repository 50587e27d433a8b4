package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/federation"
)

// What a receiving node receives (table fed_received, ddl/federation_received.sql): each
// agreement from each provider with the terms its messages carried, its state as the link
// last saw it and what arrived under it. The link saves it about once a second
// (SaveReceived); the state is also written into the properties of the agreement's remote
// Datastreams (properties.remote.agreementState and agreementStateSince), in the same
// transaction, so that a SensorThings client sees why a remote Datastream's data stopped.

// Received lists the agreements this node receives, by provider and agreement id, each with
// its remote Datastreams.
func (s *Federation) Received(ctx context.Context) ([]federation.Received, error) {
	out := []federation.Received{}
	at := map[[2]any]int{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var v federation.Received
		var res, state string
		var ret, first, last *int64
		var since int64
		if err := r.Scan(&v.Provider, &v.Agreement, &v.ConsumerOrg, &res, &ret, &state, &since, &v.Values, &v.Alerts, &first, &last); err != nil {
			return err
		}
		v.Resolution, v.State = federation.Resolution(res), federation.ReceivedState(state)
		if ret != nil {
			d := federation.Duration(time.Duration(*ret) * time.Second)
			v.Retention = &d
		}
		if since != 0 {
			t := fromUS(since)
			v.StateSince = &t
		}
		if first != nil {
			t := fromUS(*first)
			v.First = &t
		}
		if last != nil {
			t := fromUS(*last)
			v.Last = &t
		}
		v.Datastreams = []federation.ReceivedDatastream{}
		at[[2]any{v.Provider, v.Agreement}] = len(out)
		out = append(out, v)
		return nil
	}, `SELECT provider_node, agreement_id, consumer_org, resolution, retention_s, state, state_us, values_n, alerts_n, first_us, last_us
		FROM fed_received ORDER BY provider_node, agreement_id`)
	if err != nil {
		return nil, err
	}
	err = readEach(ctx, s.eng, func(r Rows) error {
		var provider string
		var agreement int64
		var d federation.ReceivedDatastream
		if err := r.Scan(&provider, &agreement, &d.Provider, &d.ID, &d.Name); err != nil {
			return err
		}
		if i, ok := at[[2]any{provider, agreement}]; ok {
			out[i].Datastreams = append(out[i].Datastreams, d)
		}
		return nil
	}, `SELECT r.provider_node, r.agreement_id, r.provider_datastream, r.datastream_id, d.name
		FROM fed_remote r JOIN datastreams d ON d.id = r.datastream_id ORDER BY r.provider_node, r.agreement_id, r.datastream_id`)
	return out, err
}

// ReceivedStates returns the state of each agreement received from provider, as last saved.
func (s *Federation) ReceivedStates(ctx context.Context, provider string) (map[int64]federation.ReceivedState, error) {
	out := map[int64]federation.ReceivedState{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id int64
		var state string
		if err := r.Scan(&id, &state); err != nil {
			return err
		}
		out[id] = federation.ReceivedState(state)
		return nil
	}, `SELECT agreement_id, state FROM fed_received WHERE provider_node = ?`, provider)
	return out, err
}

// SaveReceived saves, in one write, what the link to provider learnt: the agreements whose
// state changed (to the state given, since at; an agreement not known yet is added) and what
// arrived under each since the last save (added to its counts; the terms replaced when the
// tally has some). A changed state is written into the agreement's remote Datastreams'
// properties too.
func (s *Federation) SaveReceived(ctx context.Context, provider string, states map[int64]federation.ReceivedState,
	tallies map[int64]*federation.ReceivedTally, at time.Time) error {
	if len(states) == 0 && len(tallies) == 0 {
		return nil
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		for id, st := range states {
			if _, err := tx.Exec(ctx, `INSERT INTO fed_received (provider_node, agreement_id, state, state_us) VALUES (?, ?, ?, ?)
				ON CONFLICT (provider_node, agreement_id) DO UPDATE SET state = excluded.state, state_us = excluded.state_us`,
				provider, id, string(st), us(at)); err != nil {
				return err
			}
			if err := setRemoteState(ctx, tx, provider, id, st, at); err != nil {
				return err
			}
		}
		for id, t := range tallies {
			// values arrive only under an agreement the provider lists: one not known yet is active
			if _, err := tx.Exec(ctx, `INSERT INTO fed_received (provider_node, agreement_id, state, state_us) VALUES (?, ?, ?, ?)
				ON CONFLICT (provider_node, agreement_id) DO NOTHING`, provider, id, string(federation.ReceivedActive), us(at)); err != nil {
				return err
			}
			var first, last *int64
			if !t.First.IsZero() {
				v, w := us(t.First), us(t.Last)
				first, last = &v, &w
			}
			if _, err := tx.Exec(ctx, `UPDATE fed_received SET values_n = values_n + ?, alerts_n = alerts_n + ?,
				first_us = coalesce(first_us, ?), last_us = coalesce(?, last_us) WHERE provider_node = ? AND agreement_id = ?`,
				t.Values, t.Alerts, first, last, provider, id); err != nil {
				return err
			}
			if t.Told {
				if _, err := tx.Exec(ctx, `UPDATE fed_received SET consumer_org = ?, resolution = ?, retention_s = ? WHERE provider_node = ? AND agreement_id = ?`,
					t.ConsumerOrg, string(t.Resolution), int64(time.Duration(t.Retention)/time.Second), provider, id); err != nil {
					return err
				}
			} else if t.OrgTold { // shared alerts alone: they name the consumer organisation only
				if _, err := tx.Exec(ctx, `UPDATE fed_received SET consumer_org = ? WHERE provider_node = ? AND agreement_id = ?`,
					t.ConsumerOrg, provider, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// SetReceivedUnknown marks the active agreements received from provider unknown (its link no
// longer runs: the partner removed, or without a URL), in their remote Datastreams too.
func (s *Federation) SetReceivedUnknown(ctx context.Context, provider string, at time.Time) error {
	states, err := s.ReceivedStates(ctx, provider)
	if err != nil {
		return err
	}
	change := map[int64]federation.ReceivedState{}
	for id, st := range states {
		if st == federation.ReceivedActive {
			change[id] = federation.ReceivedUnknown
		}
	}
	return s.SaveReceived(ctx, provider, change, nil, at)
}

// setRemoteState writes state (since at) into properties.remote of the remote Datastreams of
// provider's agreement, in tx. Its caller has written the agreement's fed_received row first
// in tx: on PostgreSQL that row's lock orders it with SaveRemote (which takes the same lock),
// so a remote Datastream made meanwhile is either seen here or reads the new state there.
func setRemoteState(ctx context.Context, tx Tx, provider string, agreement int64, state federation.ReceivedState, at time.Time) error {
	type ds struct {
		id    int64
		props *string
	}
	var dss []ds
	if err := each(ctx, tx, func(r Rows) error {
		var d ds
		if err := r.Scan(&d.id, &d.props); err != nil {
			return err
		}
		dss = append(dss, d)
		return nil
	}, `SELECT d.id, d.properties FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id
		WHERE r.provider_node = ? AND r.agreement_id = ?`, provider, agreement); err != nil {
		return err
	}
	for _, d := range dss {
		p, err := withRemoteState(d.props, state, at)
		if err != nil {
			return fmt.Errorf("remote Datastream %d: properties: %w", d.id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE datastreams SET properties = ? WHERE id = ?`, p, d.id); err != nil {
			return err
		}
	}
	return nil
}

// withRemoteState returns the properties props with remote.agreementState = state and
// remote.agreementStateSince = at (RFC 3339), the other members as they were.
func withRemoteState(props *string, state federation.ReceivedState, at time.Time) (string, error) {
	top := map[string]json.RawMessage{}
	if props != nil && *props != "" && *props != "null" {
		if err := json.Unmarshal([]byte(*props), &top); err != nil {
			return "", err
		}
	}
	remote := map[string]json.RawMessage{}
	if r, ok := top["remote"]; ok {
		if err := json.Unmarshal(r, &remote); err != nil {
			return "", err
		}
	}
	remote["agreementState"], _ = json.Marshal(state)
	remote["agreementStateSince"], _ = json.Marshal(at.UTC().Format(time.RFC3339))
	var err error
	if top["remote"], err = json.Marshal(remote); err != nil {
		return "", err
	}
	b, err := json.Marshal(top)
	return string(b), err
}

// remoteStateInTx writes the saved state of provider's agreement (if any) into the new remote
// Datastream ds, in tx (SaveRemote). It touches the agreement's fed_received row first (an
// update to itself), so that on PostgreSQL it waits for a SaveReceived changing it and reads
// the state that one wrote.
func remoteStateInTx(ctx context.Context, tx Tx, provider string, agreement, ds int64) error {
	var state string
	var since int64
	err := tx.QueryRow(ctx, `UPDATE fed_received SET state = state WHERE provider_node = ? AND agreement_id = ? RETURNING state, state_us`,
		provider, agreement).Scan(&state, &since)
	if errors.Is(err, ErrNoRows) {
		return nil // not known yet: the link's next save writes it
	}
	if err != nil {
		return err
	}
	var props *string
	if err := tx.QueryRow(ctx, `SELECT properties FROM datastreams WHERE id = ?`, ds).Scan(&props); err != nil {
		return err
	}
	at := time.Now()
	if since != 0 {
		at = fromUS(since)
	}
	p, err := withRemoteState(props, federation.ReceivedState(state), at)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE datastreams SET properties = ? WHERE id = ?`, p, ds)
	return err
}
