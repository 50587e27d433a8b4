// Package apperr gives errors a kind and a message for the user, so that each surface (HTTP,
// MQTT, CLI) can map what went wrong to the right answer without knowing where it went wrong,
// and without showing what the user must not see.
//
// A kind is given once, at the domain boundary, together with a message that says what is
// wrong and where (E, Wrap); everything above wraps with context and keeps the kind.
//
// # What the user sees
//
// Message returns only text written for the user: the Msg of the outermost *Error, followed by
// the user message of its cause when the cause was itself written for users. A cause was
// written for users when it has a method
//
//	UserMessage() string
//
// (a nested *Error has one; so have odata.Error with its position, cap.Error and cap.Errors,
// rule.FieldError and rule.ErrorList — pure packages whose errors describe the client's
// input), or when the call site said so by wrapping it with Shown, as the decoders do with the
// plain errors of sensing's parsers. Every other cause — a driver's error with its SQLSTATE and
// constraint name, an I/O error, a JSON error naming Go types — is for the log only: Message
// leaves it out, and the surface logs the whole chain (err.Error()) with the request id that the
// response carries (RequestID). So a site that wraps a cause the user needs to read either
// marks it with Shown, or says it in its own message.
//
// An error without a kind, or of kind Internal, is shown as "internal error": its details are
// logged once, never returned.
package apperr
