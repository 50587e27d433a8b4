// Package audit is the node's tamper-evident record of what it shared, with whom and when: an
// append-only, hash-chained log whose head is signed with the node's key.
//
// Each entry has a sequence number (1, 2, 3 … with no gaps), a time (Unix microseconds, UTC),
// a kind ("agreement.create", "key.revoke" …), an actor (who: "<organisation>/key-<id>" or
// "node"), a subject ("agreement/3", "key/12") and a detail (a JSON value, kept as the exact
// text hashed). Its hash binds it to the one before:
//
//	body = SHA-256( {"time":<µs>,"kind":"…","actor":"…","subject":"…","detail":"<detail text>"} )
//	hash = SHA-256( {"seq":<n>,"prev":"<hex hash of entry n-1, empty for 1>","body":"<hex body>"} )
//
// both encoded as Go's encoding/json writes those structs (fields in that order, no spaces;
// the detail text compacted, without insignificant white space).
// After every append the node signs the new head, {"node":"…","seq":n,"hash":"<hex>","time":<µs>},
// with its CAP signing key (RSA PKCS #1 v1.5 or ECDSA, SHA-256), and stores that signed head too.
//
// Nothing in Rabta updates or deletes an entry or a head: the store has no such method. The
// database's owner still can, with SQL; Verify then names the first entry that was edited,
// removed or reordered, or the head whose signature is bad. An owner who rewrites the whole
// chain and its hashes cannot make a signature without the node's key.
//
// A provider proves to a partner what it shared with it (Export): the entries concerning the
// partner in full, the body hashes of the entries in between (withheld, but bound into the
// chain), the signed head and the provider's certificate; the partner checks it with
// VerifyProof and the certificate it got from the provider out of band.
package audit
