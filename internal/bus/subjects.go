package bus

import (
	"fmt"
	"strconv"
	"strings"
)

// Subjects. Every subject carries the node id, so that several nodes can share one NATS
// cluster (and leaf nodes can link them) without their messages mixing.
//
//	rabta.<node>.obs.<datastream>     accepted observations, one message per batch and datastream (stream OBS)
//	rabta.<node>.obs.m<id>            likewise for a MultiDatastream (18-088 §9)
//	rabta.<node>.alerts               issued CAP messages, signed XML (stream ALERTS)
//	rabta.<node>.ingest.<datastream>  observations published by loggers over MQTT (topic rabta/<node>/ingest/<id>)
//
// The SensorThings MQTT extension uses the standard's own topics (v1.1/Datastreams(1)/Observations);
// see MQTTSubject for how they become NATS subjects.

// ObsSubject is the subject of accepted observations of one datastream.
func ObsSubject(node string, datastream int64) string {
	return "rabta." + node + ".obs." + strconv.FormatInt(datastream, 10)
}

// MultiObsSubject is the subject of accepted observations of one MultiDatastream.
func MultiObsSubject(node string, multiDatastream int64) string {
	return "rabta." + node + ".obs.m" + strconv.FormatInt(multiDatastream, 10)
}

// obsSubjects is the obs stream's subject filter.
func obsSubjects(node string) string { return "rabta." + node + ".obs.>" }

// IngestTopic is the MQTT topic loggers publish observations of a datastream to.
func IngestTopic(node string, datastream int64) string {
	return "rabta/" + node + "/ingest/" + strconv.FormatInt(datastream, 10)
}

// AlertSubject is the subject of the node's issued CAP messages.
func AlertSubject(node string) string { return "rabta." + node + ".alerts" }

// AlertStreamName is the JetStream stream of a node's issued CAP messages.
func AlertStreamName(node string) string {
	return "RABTA_" + strings.ToUpper(strings.ReplaceAll(node, "-", "_")) + "_ALERTS"
}

// StreamName is the JetStream stream of a node's accepted observations.
func StreamName(node string) string {
	return "RABTA_" + strings.ToUpper(strings.ReplaceAll(node, "-", "_")) + "_OBS"
}

// MQTTSubject converts an MQTT topic (or topic filter) to the NATS subject the NATS server's
// MQTT bridge uses for it, so that a NATS-side publisher or subscriber meets MQTT clients:
//
//   - '/' between levels becomes '.';
//   - '.' inside a level becomes "//" (so "v1.1/Things" is "v1//1.Things");
//   - the wildcards '+' and '#' become '*' and '>'.
//
// Topics with empty levels (a leading, trailing or doubled '/', which the bridge escapes as
// "/." and "./") and topics with spaces (which it refuses) are refused here: none of Rabta's
// topics have them.
func MQTTSubject(topic string) (string, error) {
	if topic == "" {
		return "", fmt.Errorf("empty MQTT topic")
	}
	if strings.ContainsAny(topic, " \t\r\n") {
		return "", fmt.Errorf("MQTT topic %q: no spaces allowed", topic)
	}
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		switch l {
		case "":
			return "", fmt.Errorf("MQTT topic %q: empty level", topic)
		case "+":
			levels[i] = "*"
		case "#":
			levels[i] = ">"
		default:
			levels[i] = strings.ReplaceAll(l, ".", "//")
		}
	}
	return strings.Join(levels, "."), nil
}

// MQTTTopic converts a NATS subject produced by the bridge back to the MQTT topic (for the
// plain case: no empty levels).
func MQTTTopic(subject string) string {
	levels := strings.Split(strings.ReplaceAll(subject, "//", "\x00"), ".")
	for i, l := range levels {
		levels[i] = strings.ReplaceAll(l, "\x00", ".")
	}
	return strings.Join(levels, "/")
}
