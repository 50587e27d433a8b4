// Package dissemination reaches the people in a warned area (DESIGN.md step 6): subscribers
// and their contacts, the impact of an alert (people, villages by connectivity, districts,
// subscribers by channel and language), and the delivery pipeline that turns every issued CAP
// message into one delivery per subscriber, channel and message version and sends them
// through the channels of package channel.
//
// The pipeline follows Alertmanager's notify stages. Planning writes every delivery of a
// message, and a plan row that marks the message done, in one transaction: a crash before the
// commit plans again, a crash after it finds the plan. The unique (message, subscriber,
// channel) key is the dedup stage against the persisted log: nothing is planned twice, by any
// process. A worker claims due deliveries with a conditional update (state planned → sending,
// with a lease), so two processes never claim the same one; sends; and records the outcome:
// sent (or queued, when a gateway only took it for later), a transient failure retried with
// exponential back-off and full jitter, or a permanent failure that plans the subscriber's
// next contact (fallback). Delivery reports move sent deliveries to delivered or failed.
//
// What cannot be promised: no SMS protocol (Kannel's sendsms, SMPP 3.4) carries an
// idempotency key, so a process killed after the gateway accepted a message and before the
// outcome was committed cannot know whether it went out. Such a claim expires; the delivery is
// sent again (a flood warning twice is better than none) and marked ambiguous, so the possible
// duplicates are counted and bounded by the number of sends in flight at the crash. Webhooks
// (Rabta-Delivery header) and e-mail (Message-ID) carry the delivery id, so their receivers
// can drop such a duplicate.
//
// Contacts are personal data: sealed at rest with AES-256-GCM (Sealer), found for STOP and
// unsubscribe by an HMAC lookup key, never logged in clear (channel.Redact), never exported,
// and erased on request with the erasure recorded.
package dissemination
