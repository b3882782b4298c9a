package tekton

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// unattend is the part of an answer file these tests look at.
type unattend struct {
	XMLName  xml.Name `xml:"urn:schemas-microsoft-com:unattend unattend"`
	Settings []struct {
		Pass       string `xml:"pass,attr"`
		Components []struct {
			Name        string   `xml:"name,attr"`
			DriverPaths []string `xml:"DriverPaths>PathAndCredentials>Path"`
			AcceptEula  string   `xml:"UserData>AcceptEula"`
			ImageName   string   `xml:"ImageInstall>OSImage>InstallFrom>MetaData>Value"`
			FirstLogon  []string `xml:"FirstLogonCommands>SynchronousCommand>CommandLine"`
		} `xml:"component"`
	} `xml:"settings"`
}

func TestAutounattendTemplates(t *testing.T) {
	dir := filepath.Join(repo, "tasks", "templates", "autounattend")
	tests := []struct {
		file, image, driverDir string
	}{
		{"windows11.xml", "Windows 11", `viostor\w11\amd64`},
		{"windows-server-2022.xml", "Windows Server 2022", `viostor\2k22\amd64`},
		{"windows-server-2025.xml", "Windows Server 2025", `viostor\2k25\amd64`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var u unattend
			if err := xml.Unmarshal(b, &u); err != nil {
				t.Fatalf("not a well-formed unattend file: %v", err)
			}
			passes := map[string]bool{}
			var drivers, firstLogon []string
			var eula, image string
			for _, s := range u.Settings {
				passes[s.Pass] = true
				for _, c := range s.Components {
					drivers = append(drivers, c.DriverPaths...)
					firstLogon = append(firstLogon, c.FirstLogon...)
					if c.Name == "Microsoft-Windows-Setup" {
						eula, image = c.AcceptEula, c.ImageName
					}
				}
			}
			for _, p := range []string{"windowsPE", "specialize", "oobeSystem"} {
				if !passes[p] {
					t.Errorf("no %s pass", p)
				}
			}
			if eula != "true" || !strings.HasPrefix(image, tt.image) {
				t.Errorf("AcceptEula %q image %q; want true and %s", eula, image, tt.image)
			}
			if !containsSuffix(drivers, tt.driverDir) {
				t.Errorf("driver paths %v lack %s", drivers, tt.driverDir)
			}
			if len(firstLogon) == 0 {
				t.Fatal("no first-logon commands")
			}
			last := firstLogon[len(firstLogon)-1]
			for _, w := range []string{"sysprep.exe", "/generalize", "/shutdown"} {
				if !strings.Contains(last, w) {
					t.Errorf("last first-logon command %q lacks %s; the install must end in a generalized power-off", last, w)
				}
			}
			if !writesBootMarker(firstLogon[:len(firstLogon)-1]) {
				t.Errorf("no first-logon command before sysprep writes SetupComplete.cmd echoing %s to COM1; boot-verify would time out", bootMarker)
			}
		})
	}
}

// bootMarker is boot-verify's default marker (tasks/boot-verify).
const bootMarker = "GOLDIMAGE-BOOTED"

// writesBootMarker reports whether a command writes a SetupComplete.cmd that echoes the marker to COM1, which
// Windows runs on every first boot of the generalized image.
func writesBootMarker(cmds []string) bool {
	for _, c := range cmds {
		if strings.Contains(c, `\Setup\Scripts\SetupComplete.cmd`) && strings.Contains(c, "echo "+bootMarker+"^> COM1") {
			return true
		}
	}
	return false
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// TestAutounattendKustomization: every ConfigMap the kustomization generates names an existing file.
func TestAutounattendKustomization(t *testing.T) {
	dir := filepath.Join(repo, "tasks", "templates", "autounattend")
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.ConfigMapGenerator) != 3 {
		t.Fatalf("%d ConfigMaps generated, want 3", len(k.ConfigMapGenerator))
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			key, file, _ := strings.Cut(f, "=")
			if key != "autounattend.xml" {
				t.Errorf("%s: key %q, want autounattend.xml (what Windows Setup looks for)", g.Name, key)
			}
			if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
				t.Errorf("%s: %v", g.Name, err)
			}
		}
	}
}
