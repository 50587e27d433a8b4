// Package apperr gives errors a kind, so that each surface (HTTP, MQTT, CLI) can map what went
// wrong to the right answer without knowing where it went wrong. A kind is given once, at the
// domain boundary; everything above wraps with context and keeps the kind.
package apperr

import (
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
	}
	return "internal"
}

// Error is an error with a kind and a message meant for the user.
type Error struct {
	Kind Kind
	Msg  string // shown to the user
	Err  error  // the cause, may be nil
}

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

// E makes an error of kind k with a user message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err the kind k and a message; a nil err stays nil.
func Wrap(k Kind, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of the outermost *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the text safe to show a user: the message chain for classified errors,
// and a generic sentence for internal ones.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return err.Error()
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
	case Unavailable:
		return 503
	}
	return 500
}
