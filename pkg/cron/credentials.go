package cron

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Keys of a registry source's secretRef Secret (CDI's names).
const (
	SecretKeyID = "accessKeyId" // registry user name
	SecretKey   = "secretKey"   // registry password
)

// CredentialsFrom builds the poll credentials of a registry source from the Secret its secretRef names (user and
// password from accessKeyId and secretKey; nil: anonymous) and the ConfigMap its certConfigMap names (every value,
// in key order, joined into one PEM bundle; nil: system roots only). Cluster and local mode both use it.
func CredentialsFrom(sec *corev1.Secret, cm *corev1.ConfigMap) Credentials {
	var creds Credentials
	if sec != nil {
		creds.Username, creds.Password = string(sec.Data[SecretKeyID]), string(sec.Data[SecretKey])
	}
	if cm != nil {
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var pem strings.Builder
		for _, k := range keys {
			pem.WriteString(cm.Data[k])
			pem.WriteByte('\n')
		}
		creds.CACerts = pem.String()
	}
	return creds
}
