package cron

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// FindSHA256 returns "sha256:<hex>" of file name in a checksum file: GNU lines ("<hex>  name", "<hex> *name",
// as sha256sum writes them; Ubuntu, Debian) or BSD lines ("SHA256 (name) = <hex>"; Fedora's CHECKSUM). Other
// lines (PGP armour, comments, other algorithms) are skipped; an entry matches when its base name is name. No
// entry, or entries disagreeing, is an error naming the file.
func FindSHA256(sums []byte, name string) (string, error) {
	var found string
	for line := range bytes.Lines(sums) {
		entry, sum, ok := parseSumLine(strings.TrimRight(string(line), "\r\n"))
		if !ok || path.Base(entry) != name {
			continue
		}
		if found != "" && found != sum {
			return "", fmt.Errorf("lists two different SHA-256 sums for %s", name)
		}
		found = sum
	}
	if found == "" {
		return "", fmt.Errorf("lists no SHA-256 sum for %s", name)
	}
	return "sha256:" + found, nil
}

// parseSumLine parses one GNU or BSD checksum line into its file name and lower-case hex sum.
func parseSumLine(line string) (name, sum string, ok bool) {
	if rest, found := strings.CutPrefix(line, "SHA256 ("); found {
		i := strings.LastIndex(rest, ") = ")
		if i < 0 {
			return "", "", false
		}
		name, sum = rest[:i], rest[i+len(") = "):]
	} else {
		if len(line) < 66 || (line[64] != ' ' && line[64] != '\t') {
			return "", "", false
		}
		sum, name = line[:64], line[65:]
		name = strings.TrimPrefix(name, "*") // binary mode marker; a second space is text mode
		name = strings.TrimPrefix(name, " ")
	}
	sum = strings.ToLower(strings.TrimSpace(sum))
	if len(sum) != 64 || name == "" {
		return "", "", false
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return "", "", false
	}
	return name, sum, true
}

// FileName is the last path segment of an http(s) URL, the name a checksum file lists it under.
func FileName(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url %q is not a valid URL", RedactURL(raw))
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		return "", fmt.Errorf("url %s names no file", RedactURL(raw))
	}
	return name, nil
}

// RedactURL drops the password of a URL's user information for messages; an unparsable URL loses all of
// its user information.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		scheme, rest, ok := strings.Cut(raw, "://")
		if at := strings.LastIndexByte(rest, '@'); ok && at >= 0 {
			return scheme + "://" + rest[at+1:]
		}
		return raw
	case u.User == nil:
		return raw
	}
	return u.Redacted()
}
