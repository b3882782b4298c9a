package registry

import "time"

// WithSleep replaces the wait between retries by a call to record, for tests.
func WithSleep(record func(time.Duration)) Option {
	return func(c *config) error {
		c.sleep = record
		return nil
	}
}

// WithJoinHook calls hook just before a Digest call joins the singleflight group, for tests.
func WithJoinHook(hook func()) Option {
	return func(c *config) error {
		c.joinFlight = hook
		return nil
	}
}
