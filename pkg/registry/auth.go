package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// staticKeychain answers every registry with the same credentials.
type staticKeychain struct{ cfg authn.AuthConfig }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(k.cfg), nil
}

// secretKeychain answers registries listed in a Kubernetes pull secret.
type secretKeychain struct{ auths map[string]authn.AuthConfig }

type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// parsePullSecret accepts {"auths": {host: entry}} (dockerconfigjson) and {host: entry} (dockercfg).
func parsePullSecret(data []byte) (secretKeychain, error) {
	var wrapped struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return secretKeychain{}, errors.New("parse pull secret: not valid JSON") // the decoder's message may quote secrets
	}
	entries := wrapped.Auths
	if entries == nil {
		if err := json.Unmarshal(data, &entries); err != nil {
			return secretKeychain{}, errors.New("parse pull secret: neither .dockerconfigjson nor .dockercfg shape")
		}
	}
	k := secretKeychain{auths: map[string]authn.AuthConfig{}}
	for host, e := range entries {
		cfg := authn.AuthConfig{Username: e.Username, Password: e.Password, Auth: e.Auth,
			IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" && e.Username == "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			user, pass, ok := strings.Cut(string(raw), ":")
			if err != nil || !ok {
				return secretKeychain{}, fmt.Errorf("parse pull secret: auth of %s is not base64 of user:password", host)
			}
			cfg = authn.AuthConfig{Username: user, Password: pass}
		}
		k.auths[normalizeHost(host)] = cfg
	}
	return k, nil
}

// normalizeHost turns "https://index.docker.io/v1/" and friends into the registry host name.
func normalizeHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	if h == "docker.io" || h == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return h
}

func (k secretKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k.auths[normalizeHost(r.RegistryStr())]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

func (k secretKeychain) secretValues() []string {
	var out []string
	for _, c := range k.auths {
		out = append(out, c.Password, c.Auth, c.IdentityToken, c.RegistryToken,
			basicToken(c.Username, c.Password))
	}
	return out
}

// firstMatch is a keychain trying each keychain in order and using the first non-anonymous answer.
type firstMatch []authn.Keychain

func (m firstMatch) Resolve(r authn.Resource) (authn.Authenticator, error) {
	for _, k := range m {
		a, err := k.Resolve(r)
		if err != nil {
			return nil, fmt.Errorf("resolve credentials for %s: %w", r.RegistryStr(), err)
		}
		if a != authn.Anonymous {
			return a, nil
		}
	}
	return authn.Anonymous, nil
}

// basicToken is what an Authorization: Basic header carries for user and password.
func basicToken(user, password string) string {
	if password == "" {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
