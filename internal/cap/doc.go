// Package cap is Rabta's OASIS Common Alerting Protocol 1.2 codec: Go types for the whole
// message, a decoder that is safe on hostile input, an encoder that writes only schema-valid
// XML, the specification checks the XML schema cannot make, enveloped XML Signature, and Atom /
// RSS feeds of alerts. It is pure: the standard library plus goxmldsig (and its etree) for
// signatures and simplefeatures for the validity of areas.
//
// # Model
//
// An Alert holds Infos (one per language), each holding Resources and Areas; an Area is a union
// of Polygons, Circles and Geocodes. Enumerations are string types with the schema's values as
// constants and a Valid method. Times are time.Time (zero means absent). Polygons and circles
// are parsed into numbers, so "lat,lon" order, closure and vertex count are checked on values,
// not text. Lists (<addresses>, <incidents>, <references>) are slices.
//
//	Unmarshal  bytes → *Alert: well-formed, safe, CAP 1.2 namespace, schema-level structure.
//	Validate   the specification's rules beyond the schema, every problem with its path.
//	Degenerate areas CAP allows but that bound nothing (a ring crossing itself, no area,
//	           a circle of radius 0): reported for a received message, refused by CheckIssue.
//	CheckPolygon / CheckCircle  the one area check every path an area enters by uses
//	           (rules, impact preview, targeting, issue).
//	CheckIssue Validate plus freshness at the moment of issue (sent ≈ now, nothing before
//	           sent, not expired); Builder.Build = fill sent, Simplify polygons, CheckIssue,
//	           Marshal, and notes of what it changed.
//	Marshal    *Alert → bytes in the schema's element order, refusing what the XSD would.
//	Sign       enveloped XML Signature, exclusive c14n, RSA/ECDSA-SHA256, last child of alert.
//	Verify     signature + trusted certificate → the alert as signed.
//	ParseFeed / WriteAtom  feeds of alerts for and from aggregators.
//
// Errors are *Error (or Errors, a list of them) naming the element as
// alert/info[1]/area[0]/polygon[2] (0-based indexes on repeatable elements) and, when decoding,
// the line; errors.Is matches a kind: ErrSchema, ErrInvalid, ErrNamespace, ErrDoctype, ...
//
// # Traps avoided
//
//   - XML external entities and entity expansion: any DOCTYPE is refused before anything else
//     (ErrDoctype); encoding/xml knows only the predefined entities and never fetches. Input
//     is bounded (MaxSize 5 MiB per alert, MaxFeedSize 20 MiB per feed, MaxDepth 32 levels).
//   - Encodings: UTF-8 (with or without BOM), US-ASCII and ISO-8859-1 only; windows-1252 and
//     UTF-16 are refused with ErrCharset rather than guessed. etree (used for signatures) is
//     given the same CharsetReader; its default would silently not convert.
//   - Time zones: CAP forbids "Z" and fractional seconds. CAP 1.2 §3.3.2 says the UTC offset
//     MUST be written "-00:00", so FormatTime writes "-00:00" for UTC (the brief asked for
//     "+00:00"; the specification, Google's CAP requirements and the corpus — Canada, NWS —
//     all use "-00:00"). ParseTime accepts both. Parsed times use time.UTC or an unnamed fixed
//     zone, never time.Local, so decoding is deterministic on any machine.
//   - Element order: Marshal writes the XSD's sequence; Unmarshal accepts any order because
//     real feeds misorder (Sweden's senderName), and order carries no meaning.
//   - Lossless decoding: decode → Marshal → decode gives a reflect.DeepEqual alert (tested on
//     the corpus and by FuzzUnmarshal). Optional elements present but empty are remembered.
//     Dropped by design: comments, processing instructions, attributes on CAP elements
//     (xsi:schemaLocation), and white space between elements. Foreign elements inside <alert>
//     are kept as raw XML in Alert.Extensions (a Signature lands there); foreign elements in
//     info, resource or area are refused, as the schema allows them nowhere but alert.
//   - Signatures: canonicalisation is goxmldsig's, never hand-rolled. Verify decodes the alert
//     from the element goxmldsig returns (what the signature covers), not from the input, so
//     nothing outside the signed content can be slipped in. A signature survives only
//     byte-for-byte forwarding: re-marshalling changes the bytes (and keeps a stale
//     Signature extension), so sign the output of Marshal and ship it unchanged.
//   - Polygons: at least 4 points, closed, ≤ MaxVertices (1000) points, in range; a pair that
//     only fits as lon,lat is reported as such. Validity beyond CAP's letter (OGC Simple
//     Features: no self-intersection, an enclosed area) is judged by simplefeatures; where a
//     ring meets itself is named in "lat,lon". Decoding a received message never fails on it
//     (the schema allows it, and decode stays lossless): Degenerate reports it. Simplify (Visvalingam–Whyatt) reduces a ring to
//     a vertex budget; Builder applies it and says so in its notes. Marshal writes a polygon on
//     one line, single-space separated.
//
// # Not handled
//
// CAP 1.1 and 1.0 messages are refused with a clear ErrNamespace (no up-conversion yet). EDXL-DE
// envelopes are not opened. Only one signature per message is produced; a countersigned
// message (Canada's NAAD adds a second enveloped signature) verifies only if goxmldsig picks
// the signature the trusted certificate made, and the inner one cannot verify by construction.
package cap
