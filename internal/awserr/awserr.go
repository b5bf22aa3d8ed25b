// Package awserr owns the typed AWS error that domain packages return and the
// wire layer renders. It is a leaf: every package may import it, it imports
// nothing of Cachalot's.
//
// Domain code returns *Error values (or wraps them with %w); the wire layer
// finds them with errors.As and writes them in the protocol's shape. Any other
// error reaching the wire becomes InternalFailure (HTTP 500), logged once.
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS API error: a code, a message, an HTTP status and who is at
// fault (the sender, a 4xx, or the receiver, a 5xx).
type Error struct {
	Code    string
	Message string
	Status  int // HTTP status; 400 when zero
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// HTTPStatus returns the HTTP status of the error, 400 by default.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// Sender reports whether the caller is at fault (Type "Sender" in awsQuery
// errors) rather than the service ("Receiver").
func (e *Error) Sender() bool { return e.HTTPStatus() < 500 }

// New returns an error with a 400 status.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// WithStatus returns an error with the given HTTP status.
func WithStatus(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// HasCode reports whether err carries an *Error with the given code.
func HasCode(err error, code string) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

// Errors shared by every service. Service-specific codes (CacheClusterNotFound,
// InvalidGroup.NotFound, NoSuchEntity, ...) are built with New where they arise.

// InvalidParameterValue reports a parameter whose value is not allowed.
func InvalidParameterValue(format string, args ...any) *Error {
	return New("InvalidParameterValue", format, args...)
}

// InvalidParameterCombination reports parameters that may not be used together.
func InvalidParameterCombination(format string, args ...any) *Error {
	return New("InvalidParameterCombination", format, args...)
}

// MissingParameter reports a required parameter that is absent.
func MissingParameter(name string) *Error {
	return New("MissingParameter", "The request must contain the parameter %s", name)
}

// NotImplemented reports an operation that Cachalot does not implement.
func NotImplemented(service, operation string) *Error {
	return WithStatus(http.StatusNotImplemented, "NotImplemented",
		"%s.%s is not implemented by Cachalot", service, operation)
}

// Internal is the error every unexpected fault becomes on the wire.
func Internal() *Error {
	return WithStatus(http.StatusInternalServerError, "InternalFailure",
		"The request processing has failed because of an unknown error, exception or failure.")
}
