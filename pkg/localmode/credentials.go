package localmode

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cron"
)

// Auth is what one import authenticates, verifies TLS and checks the source with, as the cluster's importer
// pod gets it.
type Auth struct {
	User     string   // accessKeyId of the cron's secretRef; empty: anonymous
	Password string   // secretKey of the cron's secretRef
	CertDir  string   // the cron's certConfigMap, one file per key as the pod mounts it; empty: system roots only
	Checksum string   // "sha256:<hex>" the source bytes must have (an http cron's checksum-url); empty: not checked
	Headers  []string // extra "Name: value" HTTP headers (an http cron's extraHeaders)
}

// String describes a without its password.
func (a Auth) String() string {
	pw := ""
	if a.Password != "" {
		pw = "(redacted)"
	}
	return fmt.Sprintf("{User:%s Password:%s CertDir:%s Checksum:%s}", a.User, pw, a.CertDir, a.Checksum)
}

// GoString is String, so %#v does not print the password either.
func (a Auth) GoString() string { return a.String() }

// access is what a cron's registry or http source refers to: its Secret and CA ConfigMap, nil when not named.
type access struct {
	secret    *corev1.Secret
	configMap *corev1.ConfigMap
	headers   string // an http source's extraHeaders, one per line
}

// lookup finds the Secret and ConfigMap the cron's source names, in the cron's namespace. A named
// object that is missing, or a Secret without CDI's keys, is an error naming it (never its values).
func (o Objects) lookup(c *cdiv1.DataImportCron) (access, error) {
	var a access
	kind, secretName, cmName := cron.SourceRefs(c)
	if cron.IsHTTP(c) {
		a.headers = strings.Join(c.Spec.Template.Spec.Source.HTTP.ExtraHeaders, "\n")
	}
	if name := secretName; name != "" {
		key := c.Namespace + "/" + name
		a.secret = o.Secrets[key]
		if a.secret == nil {
			return a, fmt.Errorf("%s secretRef: no Secret %s in the manifest directory", kind, key)
		}
		for _, k := range []string{cron.SecretKeyID, cron.SecretKey} {
			if len(a.secret.Data[k]) == 0 {
				return a, fmt.Errorf("%s secretRef: Secret %s has no %s (it needs CDI's %s and %s)", kind, key, k, cron.SecretKeyID, cron.SecretKey)
			}
		}
	}
	if name := cmName; name != "" {
		key := c.Namespace + "/" + name
		a.configMap = o.ConfigMaps[key]
		if a.configMap == nil {
			return a, fmt.Errorf("%s certConfigMap: no ConfigMap %s in the manifest directory", kind, key)
		}
		if len(a.configMap.Data) == 0 {
			return a, fmt.Errorf("%s certConfigMap: ConfigMap %s has no data", kind, key)
		}
	}
	return a, nil
}

// credentials are the poll credentials, built as the cluster controller builds them.
func (a access) credentials() cron.Credentials {
	creds := cron.CredentialsFrom(a.secret, a.configMap)
	creds.Headers = a.headers
	return creds
}

// auth returns the import's Auth, writing the ConfigMap's keys as files into a new directory under tmp; the
// caller calls cleanup when the import is over.
func (a access) auth(tmp string) (auth Auth, cleanup func(), err error) {
	cleanup = func() {}
	if a.headers != "" {
		auth.Headers = strings.Split(a.headers, "\n")
	}
	if a.secret != nil {
		auth.User, auth.Password = string(a.secret.Data[cron.SecretKeyID]), string(a.secret.Data[cron.SecretKey])
	}
	if a.configMap == nil {
		return auth, cleanup, nil
	}
	dir, err := os.MkdirTemp(tmp, "goldimage-ca-")
	if err != nil {
		return auth, cleanup, fmt.Errorf("registry CA directory: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	for k, v := range a.configMap.Data { // keys passed IsConfigMapKey at load: plain file names
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			cleanup()
			return auth, func() {}, fmt.Errorf("registry CA directory: %w", err)
		}
	}
	auth.CertDir = dir
	return auth, cleanup, nil
}
