// Package taskresult records a task command's outcome as a Tekton result, so that a failed TaskRun carries the
// command's one-line cause in its status (status.results) and not only Tekton's "exited with code 1".
package taskresult

import (
	"fmt"
	"os"
	"strings"
)

// EnvFailureFile names the file a task step passes as $(results.FAILURE.path).
const EnvFailureFile = "GOLDIMAGE_FAILURE_FILE"

// maxLen keeps the result well inside Tekton's 4 KiB termination message shared by all results of a step.
const maxLen = 1024

// Report writes err's message on one line (at most maxLen bytes) to the file EnvFailureFile names, or an empty
// result when err is nil, so the declared result always exists. It does nothing when the variable is unset (the
// command runs outside Tekton); a failure to write is printed to stderr, since the command is exiting anyway.
func Report(err error) {
	path := os.Getenv(EnvFailureFile)
	if path == "" {
		return
	}
	if werr := os.WriteFile(path, []byte(Line(err)), 0o644); werr != nil {
		fmt.Fprintf(os.Stderr, "write failure result %s: %v\n", path, werr)
	}
}

// Line is err's message folded onto one line and cut to maxLen bytes; "" for nil.
func Line(err error) string {
	if err == nil {
		return ""
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > maxLen {
		msg = msg[:maxLen-3] + "..."
	}
	return msg
}

// Exit ends a task command: it reports err (prefixed with the command's name), prints it to stderr and exits
// with status 1; on success it reports an empty result and returns.
func Exit(command string, err error) {
	if err != nil {
		err = fmt.Errorf("%s: %w", command, err)
	}
	Report(err)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
