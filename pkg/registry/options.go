package registry

import (
	"fmt"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Option configures a Client built by New.
type Option func(*config) error

type config struct {
	keychains   []authn.Keychain
	caDir       string
	insecure    map[string]bool
	rate        float64
	burst       int
	attempts    int
	backoff     time.Duration
	maxBackoff  time.Duration
	userAgent   string
	platform    v1.Platform
	sleep       func(d time.Duration) // test hook: nil means a real, context-aware sleep
	joinFlight  func()                // test hook: called before a Digest call joins the singleflight group
	secretsSeen []string
}

func defaultConfig() config {
	return config{
		insecure:   map[string]bool{},
		rate:       50,
		burst:      100,
		attempts:   5,
		backoff:    500 * time.Millisecond,
		maxBackoff: time.Minute,
		userAgent:  "goldimage",
		platform:   v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
	}
}

// WithKeychain adds a keychain consulted for every registry, after the credentials added before it.
// Default: anonymous access.
func WithKeychain(k authn.Keychain) Option {
	return func(c *config) error {
		c.keychains = append(c.keychains, k)
		return nil
	}
}

// WithBasicAuth uses username and password for every registry (unless an earlier option matched).
// Default: anonymous access.
func WithBasicAuth(username, password string) Option {
	return func(c *config) error {
		c.keychains = append(c.keychains, staticKeychain{authn.AuthConfig{Username: username, Password: password}})
		c.secretsSeen = append(c.secretsSeen, password, basicToken(username, password))
		return nil
	}
}

// WithPullSecret uses a Kubernetes image pull secret: the JSON of a kubernetes.io/dockerconfigjson
// (.dockerconfigjson) or legacy kubernetes.io/dockercfg (.dockercfg) secret. Default: none.
func WithPullSecret(dockerConfigJSON []byte) Option {
	return func(c *config) error {
		k, err := parsePullSecret(dockerConfigJSON)
		if err != nil {
			return err
		}
		c.keychains = append(c.keychains, k)
		c.secretsSeen = append(c.secretsSeen, k.secretValues()...)
		return nil
	}
}

// WithCDISecret uses CDI's endpoint secret shape (accessKeyId = user name, secretKey = password) for
// every registry. Default: none.
func WithCDISecret(accessKeyID, secretKey string) Option {
	return WithBasicAuth(accessKeyID, secretKey)
}

// WithCADir trusts the PEM certificates in every file of dir (names starting with a dot aside) in addition to the system
// pool. Default: system pool only.
func WithCADir(dir string) Option {
	return func(c *config) error {
		c.caDir = dir
		return nil
	}
}

// WithInsecureRegistries allows plain HTTP and skips TLS verification for the given registry hosts
// ("host" or "host:port"). Hazard: anyone on the path can read credentials and swap images.
// Other hosts get verified TLS only, even private addresses that go-containerregistry would reach
// over plain HTTP. Default: none (loopback registries may use plain HTTP, as Docker allows).
func WithInsecureRegistries(hosts ...string) Option {
	return func(c *config) error {
		for _, h := range hosts {
			c.insecure[h] = true
		}
		return nil
	}
}

// WithRateLimit allows at most perSecond requests per registry host with bursts of burst.
// perSecond <= 0 disables the limit. Default: 50 per second, burst 100.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) error {
		c.rate, c.burst = perSecond, max(burst, 1)
		return nil
	}
}

// WithRetry makes at most attempts tries of requests answered 429, 408 or 5xx (and of idempotent
// requests failing on the network), waiting Retry-After when the registry sends one (capped at
// maxWait) and otherwise base, 2*base, 4*base... with jitter. Default: 5 attempts, 500ms, 1m.
func WithRetry(attempts int, base, maxWait time.Duration) Option {
	return func(c *config) error {
		c.attempts, c.backoff, c.maxBackoff = max(attempts, 1), base, maxWait
		return nil
	}
}

// WithUserAgent sets the User-Agent prefix of requests. Default: "goldimage".
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		c.userAgent = ua
		return nil
	}
}

// WithPlatform selects the manifest of an image index by "os/arch[/variant]", for Digest, Pull and
// (as the image platform) Push. Default: linux and the architecture this binary runs on.
func WithPlatform(platform string) Option {
	return func(c *config) error {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return fmt.Errorf("parse platform %q: %w", platform, err)
		}
		c.platform = *p
		return nil
	}
}
