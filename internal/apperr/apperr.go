package apperr

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
)

// Kind classifies an error.
type Kind int

// Kinds of error.
const (
	Internal     Kind = iota // a bug or an unexpected failure; details are logged, not shown
	Invalid                  // the request is malformed or breaks a rule
	NotFound                 // the thing asked for does not exist
	Conflict                 // the request conflicts with the current state
	Unauthorized             // no valid credentials
	Forbidden                // credentials valid, role insufficient
	Unavailable              // try again later (shutting down, overloaded)
	TooLarge                 // the request body is over the documented limit
	TooMany                  // over a rate limit: try again after a while (HTTP 429)
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "too large"
	case TooMany:
		return "too many requests"
	}
	return "internal"
}

// Error is an error with a kind and a message meant for the user.
type Error struct {
	Kind Kind
	Msg  string // shown to the user: what is wrong, and where
	Err  error  // the cause, may be nil; shown only if it has a user message (see the package doc)
}

// Error returns the message and the whole cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Msg == "" {
			return e.Err.Error()
		}
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// UserMessage returns Msg, followed by the user message of the cause if it has one. An
// Internal error has none.
func (e *Error) UserMessage() string {
	if e.Kind == Internal {
		return ""
	}
	cause := userMessage(e.Err)
	switch {
	case cause == "":
		return e.Msg
	case e.Msg == "":
		return cause
	}
	return e.Msg + ": " + cause
}

// userMessager is implemented by errors written for the user who made the request.
type userMessager interface{ UserMessage() string }

// userMessage returns the user message of the first error in err's chain that has one.
func userMessage(err error) string {
	var u userMessager
	if err != nil && errors.As(err, &u) {
		return u.UserMessage()
	}
	return ""
}

// E makes an error of kind k with a user message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err the kind k and a user message; a nil err stays nil. The cause is logged but
// not shown to the user unless it has a user message of its own (see Shown).
func Wrap(k Kind, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Shown marks err as written for the user, so that Message shows its text after the message
// of the *Error that wraps it: for the plain errors of the parsers in pure packages, which
// say what is wrong with a value the client sent ("invalid time \"x\": missing offset"). Never
// use it on an error from a driver, the file system or the network. A nil err stays nil.
func Shown(err error) error {
	if err == nil {
		return nil
	}
	return shown{err}
}

type shown struct{ err error }

func (s shown) Error() string       { return s.err.Error() }
func (s shown) Unwrap() error       { return s.err }
func (s shown) UserMessage() string { return s.err.Error() }

// KindOf returns the kind of the outermost *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the text safe to show a user: the message given at the domain boundary, with
// the user messages of its causes (see the package doc), or "internal error" for an error
// without a kind or of kind Internal.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		if m := e.UserMessage(); m != "" {
			return m
		}
		return e.Kind.String()
	}
	return "internal error"
}

// HTTPStatus is the HTTP status for an error of err's kind, for the HTTP surfaces to share.
func HTTPStatus(err error) int {
	switch KindOf(err) {
	case Invalid:
		return 400
	case Unauthorized:
		return 401
	case Forbidden:
		return 403
	case NotFound:
		return 404
	case Conflict:
		return 409
	case TooLarge:
		return 413
	case TooMany:
		return 429
	case Unavailable:
		return 503
	}
	return 500
}

// RequestIDHeader is the HTTP header that carries the request id, in a request (honoured when
// short and safe) and in every response.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id id, which every response of an error and
// its log line carry, so that a user's report can be matched with the log.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewRequestID returns a new random request id: 20 characters of base 32, lower case.
func NewRequestID() string {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	var b [20]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = digits[b[i]&31]
	}
	return string(b[:])
}
