package importer

import (
	"errors"
	"fmt"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/convert"
	"github.com/goldimage/goldimage/pkg/importer/source"
)

// usageError is a bad flag or environment value.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usagef returns an error for bad configuration; ExitCode maps it to contract.ExitUsage.
func Usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// fatalf returns a permanent error caused by the input.
func fatalf(format string, args ...any) error { return source.Fatal(fmt.Errorf(format, args...)) }

// IsFatal reports whether err is permanent: a rerun with the same input will fail the same way.
func IsFatal(err error) bool {
	var u usageError
	return source.IsFatal(err) || convert.IsBadInput(err) || errors.As(err, &u)
}

// ExitCode maps the result of Run to the importer's exit code (contract.Exit*).
func ExitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return contract.ExitOK
	case errors.As(err, &u):
		return contract.ExitUsage
	case IsFatal(err):
		return contract.ExitFatal
	}
	return contract.ExitRetryable
}
