package cron

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goldimage/goldimage/pkg/registry"
)

// RegistryResolvers returns a ResolverFactory building one pkg/registry Client per credential set, with base
// options (insecure hosts, platform, rate limits) applied first. CA bundles are written under caRoot, one
// directory per credential set, because the registry client trusts certificates from a directory.
func RegistryResolvers(caRoot string, base ...registry.Option) ResolverFactory {
	return func(creds Credentials) (DigestResolver, error) {
		opts := append([]registry.Option(nil), base...)
		if creds.Username != "" || creds.Password != "" {
			opts = append(opts, registry.WithCDISecret(creds.Username, creds.Password))
		}
		if creds.CACerts != "" {
			dir := filepath.Join(caRoot, creds.key()[:16])
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store registry CA bundle: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(creds.CACerts), 0o600); err != nil {
				return nil, fmt.Errorf("store registry CA bundle: %w", err)
			}
			opts = append(opts, registry.WithCADir(dir))
		}
		c, err := registry.New(opts...)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// TrimScheme removes a docker:// prefix from a registry URL.
func TrimScheme(url string) string { return strings.TrimPrefix(url, "docker://") }
