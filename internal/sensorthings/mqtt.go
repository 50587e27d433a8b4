package sensorthings

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// The SensorThings MQTT extension (SensorThings 1.1, 14.2): clients subscribe to a resource
// path as a topic and receive each new Observation as its JSON; they create Observations by
// publishing to a collection's topic.
//
// Topics served:
//
//	v1.1/Observations
//	v1.1/Datastreams(<id>)/Observations
//	v1.1/MultiDatastreams(<id>)/Observations (the MultiDatastream extension, 18-088 §9)
//	v1.1/FeaturesOfInterest(<id>)/Observations
//
// each also with a "?$select=a,b" suffix, which selects the properties sent.

// Publisher sends a message to MQTT subscribers of a topic.
type Publisher interface {
	PublishTopic(topic string, data []byte) error
	// Interest lists the topics with subscribers that start with prefix (for $select variants).
	Interest(prefix string) []string
}

var mqttTopic = regexp.MustCompile(`^v1\.1/(Observations|Datastreams\((\d+)\)/Observations|FeaturesOfInterest\((\d+)\)/Observations|MultiDatastreams\((\d+)\)/Observations)(\?\$select=([A-Za-z@.,]+))?$`)

// Submatches of mqttTopic.
const (
	topicDatastream      = 2
	topicFoI             = 3
	topicMultiDatastream = 4
	topicSelect          = 6
)

// MQTTTopics are the topic filters the server listens on for creates.
var MQTTTopics = []string{Version + "/Observations", Version + "/+/Observations"}

// MQTTCreate creates an Observation published to topic (by a client whose key may write, as
// the bus checked). It returns the new id, or an error saying what is wrong.
//
// A message on the bus does not say who published it; the bus lets a key publish only to its
// own organisation's v1.1/Datastreams(<id>)/Observations and v1.1/MultiDatastreams(<id>)/Observations
// (bus.Owner), and the other create topics to the node-wide admin alone. So a create on a
// stream's topic acts for the organisation owning the stream (with s.Owner): what it creates
// inline (a FeatureOfInterest) is that organisation's, and whatever else the message names is
// held to the organisation boundary as over HTTP; a create on another topic acts for the node.
func (s *Server) MQTTCreate(ctx context.Context, topic string, body []byte) (int64, error) {
	e, err := s.mqttEntity(topic, body)
	if err == nil {
		ctx, err = s.mqttActor(ctx, topic)
	}
	if err != nil {
		if k := apperr.KindOf(err); k != apperr.Internal && k != apperr.Unavailable {
			s.Ingest.Reject("mqtt", err)
		}
		return 0, err
	}
	return s.create(ctx, "mqtt", e)
}

// mqttActor returns ctx acting for the organisation owning the stream of topic (see MQTTCreate).
func (s *Server) mqttActor(ctx context.Context, topic string) (context.Context, error) {
	m := mqttTopic.FindStringSubmatch(topic)
	if m == nil || s.Owner == nil {
		return ctx, nil
	}
	set, raw := sensing.Datastreams, m[topicDatastream]
	if raw == "" {
		set, raw = sensing.MultiDatastreams, m[topicMultiDatastream]
	}
	if raw == "" {
		return ctx, nil
	}
	id, _ := strconv.ParseInt(raw, 10, 64)
	org, err := s.Owner(ctx, set, id)
	if err != nil {
		return ctx, err
	}
	return auth.WithPrincipal(ctx, &auth.Principal{Organisation: org, Role: auth.Operator}), nil
}

// MQTTObservation decodes an Observation published to topic for the ingest path's durable
// batches (ingest.MQTT.Observation): ok when it links an existing Datastream or MultiDatastream
// (by the topic or by @iot.id) and at most an existing FeatureOfInterest by @iot.id, so that it
// can be stored with others in one transaction; ok false with no error when it holds an inline
// entity (a deep insert, for MQTTCreate) or names both a Datastream and a MultiDatastream (the
// store says what is wrong). err says what is wrong with the message.
func (s *Server) MQTTObservation(topic string, body []byte) (sensing.Observation, bool, error) {
	e, err := s.mqttEntity(topic, body)
	if err != nil {
		return sensing.Observation{}, false, err
	}
	ds, md, foi := e.Links["Datastream"], e.Links["MultiDatastream"], e.Links["FeatureOfInterest"]
	if len(ds) == 0 && len(md) == 0 {
		return sensing.Observation{}, false, apperr.E(apperr.Invalid, "Observation needs a Datastream or a MultiDatastream: publish to v1.1/Datastreams(<id>)/Observations or v1.1/MultiDatastreams(<id>)/Observations, or link one by @iot.id")
	}
	stream := ds
	if len(md) > 0 {
		if len(ds) > 0 {
			return sensing.Observation{}, false, nil
		}
		stream = md
	}
	if len(stream) != 1 || !stream[0].Ref || len(foi) > 1 || len(foi) == 1 && !foi[0].Ref {
		return sensing.Observation{}, false, nil
	}
	o := *e.Obs
	if stream[0].Set == sensing.MultiDatastreams {
		o.MultiDatastreamID = stream[0].ID
	} else {
		o.DatastreamID = stream[0].ID
	}
	if len(foi) == 1 {
		o.FoIID = foi[0].ID
	}
	return o, true, nil
}

func (s *Server) mqttEntity(topic string, body []byte) (*sensing.Entity, error) {
	m := mqttTopic.FindStringSubmatch(topic)
	if m == nil || m[topicSelect-1] != "" {
		return nil, apperr.E(apperr.Invalid, "topic %q: publish Observations to v1.1/Observations, v1.1/Datastreams(<id>)/Observations or v1.1/MultiDatastreams(<id>)/Observations", topic)
	}
	if int64(len(body)) > s.MaxBody {
		return nil, apperr.E(apperr.TooLarge, "message of %d bytes is over the limit of %d", len(body), s.MaxBody)
	}
	raw, err := checkJSON(body)
	if err != nil {
		return nil, err
	}
	e, err := decodeEntity(sensing.Observations, raw, true)
	if err != nil {
		return nil, err
	}
	if m[topicDatastream] != "" {
		id, _ := strconv.ParseInt(m[topicDatastream], 10, 64)
		e.Links["Datastream"] = []*sensing.Entity{{Set: sensing.Datastreams, ID: id, Ref: true}}
	}
	if m[topicMultiDatastream] != "" {
		id, _ := strconv.ParseInt(m[topicMultiDatastream], 10, 64)
		e.Links["MultiDatastream"] = []*sensing.Entity{{Set: sensing.MultiDatastreams, ID: id, Ref: true}}
	}
	if m[topicFoI] != "" {
		id, _ := strconv.ParseInt(m[topicFoI], 10, 64)
		e.Links["FeatureOfInterest"] = []*sensing.Entity{{Set: sensing.FeaturesOfInterest, ID: id, Ref: true}}
	}
	return e, nil
}

// Subscribed reports whether any MQTT client follows observations of datastream ds (through
// v1.1/Observations or v1.1/Datastreams(ds)/Observations), so that a batch nobody follows is not
// even decoded. Subscribers by FeatureOfInterest are not known before decoding; while there are
// any, every batch counts as followed. ds 0 stands for a MultiDatastream's batch (the bus does
// not tell which before decoding): followed while anyone follows a MultiDatastream.
func Subscribed(p Publisher, ds int64) bool {
	if ds == 0 {
		return len(p.Interest(Version+"/Observations")) > 0 || len(p.Interest(Version+"/MultiDatastreams(")) > 0 ||
			len(p.Interest(Version+"/FeaturesOfInterest(")) > 0
	}
	return len(p.Interest(Version+"/Observations")) > 0 ||
		len(p.Interest(Version+"/Datastreams("+strconv.FormatInt(ds, 10)+")/Observations")) > 0 ||
		len(p.Interest(Version+"/FeaturesOfInterest(")) > 0
}

// NotifyMQTT sends each observation of an accepted batch to the MQTT subscribers of its topics
// (only topics somebody subscribes to are built). base is the API's base URL for links.
func (s *Server) NotifyMQTT(p Publisher, base string, b *sensing.ObsBatch) error {
	interest := map[string][]string{}
	variants := func(prefix string) []string {
		v, ok := interest[prefix]
		if !ok {
			v = p.Interest(prefix)
			interest[prefix] = v
		}
		return v
	}
	w := &writer{base: strings.TrimSuffix(base, "/") + "/" + Version}
	ds := Version + "/Datastreams(" + strconv.FormatInt(b.Datastream, 10) + ")/Observations"
	if b.MultiDatastream != 0 {
		ds = Version + "/MultiDatastreams(" + strconv.FormatInt(b.MultiDatastream, 10) + ")/Observations"
	}
	for _, it := range b.Obs {
		prefixes := []string{Version + "/Observations", ds}
		if it.FoI != 0 {
			prefixes = append(prefixes, Version+"/FeaturesOfInterest("+strconv.FormatInt(it.FoI, 10)+")/Observations")
		}
		var e *sensing.Entity
		for _, pre := range prefixes {
			for _, t := range variants(pre) {
				m := mqttTopic.FindStringSubmatch(t)
				if m == nil {
					continue // a longer topic that merely starts with pre
				}
				if e == nil {
					e = obsEntity(it)
					if b.MultiDatastream != 0 {
						e.Props[sensing.MultiDatastreamIDProp] = b.MultiDatastream // links to it, not to a Datastream
					}
				}
				var sel []odata.SelectItem
				for _, name := range strings.Split(m[topicSelect], ",") {
					if name != "" {
						sel = append(sel, odata.SelectItem{Name: name})
					}
				}
				w.b.Reset()
				w.entity(e, &odata.Options{Select: sel})
				if err := p.PublishTopic(t, bytes.Clone(w.b.Bytes())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// obsEntity is the Observation of a bus item, as the API would show it.
func obsEntity(it sensing.ObsItem) *sensing.Entity {
	e := &sensing.Entity{Set: sensing.Observations, ID: it.ID, Props: map[string]any{
		"phenomenonTime": it.PhenomenonTime, "result": it.Result, "resultQuality": it.Quality,
		"resultTime": nil, "validTime": nil, "parameters": nil,
	}}
	if it.ResultTime != "" {
		e.Props["resultTime"] = it.ResultTime
	}
	if len(it.Parameters) > 0 {
		e.Props["parameters"] = it.Parameters
	}
	if len(it.Quality) == 0 {
		e.Props["resultQuality"] = json.RawMessage(`{"flag":"` + it.Flag.String() + `"}`)
	}
	return e
}

// DecodeIngestMessage decodes an observation published by a logger: a JSON object with
// "result" and optionally "phenomenonTime", "resultTime" and "parameters", or a bare JSON
// number meaning that value at now.
func DecodeIngestMessage(b []byte, now time.Time) (sensing.Observation, error) {
	raw, err := checkJSON(b)
	if err != nil {
		return sensing.Observation{}, err
	}
	if kindOfJSON(raw) == "a number" {
		var o sensing.Observation
		if err := setResult(&o, raw); err != nil {
			return o, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "result")
		}
		now = now.UTC()
		o.PhenStart, o.PhenEnd, o.PhenText = now, now, now.Format(time.RFC3339Nano)
		return o, nil
	}
	e, err := decodeEntity(sensing.Observations, raw, true)
	if err != nil {
		return sensing.Observation{}, err
	}
	if len(e.Links) > 0 {
		return sensing.Observation{}, apperr.E(apperr.Invalid, "the topic names the datastream; leave links out of the message")
	}
	return *e.Obs, nil
}
