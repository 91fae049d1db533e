package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oauthbroker/broker/config"
)

// Good values for every secret a deploy file names, so the production
// config validates when, and only when, the names agree.
var secretValues = map[string]string{
	"BROKER_ADMIN_TOKEN":    "admin-token-of-a-deployment-0123456789",
	"BROKER_STATE_KEY":      "state-key-of-a-deployment-0123456789abcdef",
	"BROKER_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	"BROKER_DATABASE_URL":   "postgres://broker:pw@postgres:5432/broker",
	"BROKER_PUBLIC_URL":     "https://broker.example.com",
}

// validCommands are the broker subcommands a deploy file may run.
var validCommands = map[string]bool{"serve": true, "migrate": true}

// loadWith parses a config with exactly the given environment (plus files
// for *_FILE variables) and validates it.
func loadWith(t *testing.T, data []byte, env map[string]string, files map[string]string) *config.Config {
	t.Helper()
	lookup := config.LookupWith(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v + "\n"), nil
			}
			return nil, errors.New("no such file")
		})
	cfg, err := config.Parse(data, lookup)
	if err != nil {
		t.Fatalf("config does not load with the deploy file's environment: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config does not validate with the deploy file's environment:\n%v", err)
	}
	return cfg
}

func port(t *testing.T, listen string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("listen %q: %v", listen, err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompose(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Secrets     []string          `yaml:"secrets"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
		Secrets map[string]struct{ File string } `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(readFile(t, "compose.yaml"), &compose); err != nil {
		t.Fatal(err)
	}
	brokers := 0
	for name, svc := range compose.Services {
		if !strings.HasPrefix(name, "broker") {
			continue
		}
		brokers++
		t.Run(name, func(t *testing.T) {
			if len(svc.Command) == 0 || !validCommands[svc.Command[0]] {
				t.Fatalf("command %v is not a broker subcommand", svc.Command)
			}
			files := map[string]string{}
			for _, s := range svc.Secrets {
				if _, ok := compose.Secrets[s]; !ok {
					t.Fatalf("secret %q is not declared", s)
				}
			}
			for k, v := range svc.Environment {
				if base, ok := strings.CutSuffix(k, config.FileSuffix); ok {
					secret := strings.TrimPrefix(v, "/run/secrets/")
					found := false
					for _, s := range svc.Secrets {
						found = found || s == secret
					}
					if !found {
						t.Fatalf("%s points at %s, which the service does not mount", k, v)
					}
					files[v] = secretValues[base]
				}
			}
			cfgData := readFile(t, "broker.yaml")
			cfg := loadWith(t, cfgData, svc.Environment, files)
			// Production exactly when the stack is reached over https: it
			// refuses any other publicUrl.
			if cfg.Store.Driver != "postgres" || cfg.Server.Production != strings.HasPrefix(cfg.Server.PublicURL, "https://") {
				t.Fatalf("compose replicas run on postgres, in production when https: driver %q production %v publicUrl %s", cfg.Store.Driver, cfg.Server.Production, cfg.Server.PublicURL)
			}
			if len(svc.Ports) != 1 || !strings.HasSuffix(svc.Ports[0], ":"+port(t, cfg.Server.Listen)) {
				t.Fatalf("ports %v do not reach listen %s", svc.Ports, cfg.Server.Listen)
			}
		})
	}
	if brokers < 2 {
		t.Fatalf("compose has %d broker replicas, want two", brokers)
	}
}

// k8sDoc is the part of a Kubernetes object the checks read.
type k8sDoc struct {
	Kind       string                `yaml:"kind"`
	Metadata   struct{ Name string } `yaml:"metadata"`
	Data       map[string]string     `yaml:"data"`
	StringData map[string]string     `yaml:"stringData"`
	Spec       struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		MinAvailable int `yaml:"minAvailable"`
		Ports        []struct {
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podSpec struct {
	Containers []container `yaml:"containers"`
}

type container struct {
	Name    string                         `yaml:"name"`
	Args    []string                       `yaml:"args"`
	Env     []struct{ Name, Value string } `yaml:"env"`
	EnvFrom []struct {
		SecretRef struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		ContainerPort int    `yaml:"containerPort"`
		Name          string `yaml:"name"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func readK8s(t *testing.T, path string) []k8sDoc {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []k8sDoc
	for {
		var d k8sDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

func checkKubernetes(t *testing.T, path string, wantDriver string, wantLoopback bool) {
	docs := readK8s(t, path)
	var cfgData []byte
	secretKeys := map[string]map[string]string{}
	for _, d := range docs {
		if d.Kind == "ConfigMap" {
			cfgData = []byte(d.Data["broker.yaml"])
		}
		if d.Kind == "Secret" {
			secretKeys[d.Metadata.Name] = d.StringData
		}
	}
	if cfgData == nil {
		t.Fatal("no ConfigMap with broker.yaml")
	}
	checked := 0
	for _, d := range docs {
		if d.Kind != "Deployment" && d.Kind != "Job" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Args) == 0 || !validCommands[c.Args[0]] {
				continue // the app's own container
			}
			checked++
			env := map[string]string{}
			for _, ref := range c.EnvFrom {
				keys, ok := secretKeys[ref.SecretRef.Name]
				if !ok {
					t.Fatalf("%s: envFrom names Secret %q, not in the file", c.Name, ref.SecretRef.Name)
				}
				for k := range keys {
					env[k] = secretValues[k]
				}
			}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if env["BROKER_CONFIG"] != "/etc/broker/broker.yaml" {
				t.Fatalf("%s: BROKER_CONFIG %q does not point at the mounted ConfigMap", c.Name, env["BROKER_CONFIG"])
			}
			cfg := loadWith(t, cfgData, env, nil)
			if cfg.Store.Driver != wantDriver || !cfg.Server.Production {
				t.Fatalf("%s: driver %q production %v", c.Name, cfg.Store.Driver, cfg.Server.Production)
			}
			host, p, _ := net.SplitHostPort(cfg.Server.Listen)
			if wantLoopback != (host == "127.0.0.1") {
				t.Fatalf("%s: listen %s (sidecar must be loopback-only, a service must not)", c.Name, cfg.Server.Listen)
			}
			if c.Args[0] != "serve" {
				continue
			}
			if len(c.Ports) == 0 || p != strconv.Itoa(c.Ports[0].ContainerPort) {
				t.Fatalf("%s: containerPort %v does not match listen %s", c.Name, c.Ports, cfg.Server.Listen)
			}
			for name, pr := range map[string]*probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
				if pr == nil || pr.HTTPGet.Path != name {
					t.Fatalf("%s: probe for %s missing or wrong", c.Name, name)
				}
				if pp := pr.HTTPGet.Port; pp != c.Ports[0].ContainerPort && pp != c.Ports[0].Name {
					t.Fatalf("%s: probe port %v is not the broker's port", c.Name, pp)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no broker container found")
	}
}

func TestKubernetesSidecar(t *testing.T) {
	checkKubernetes(t, "kubernetes/sidecar.yaml", "sqlite", true)
}

func TestKubernetesService(t *testing.T) {
	checkKubernetes(t, "kubernetes/service.yaml", "postgres", false)
	var pdb, svc bool
	for _, d := range readK8s(t, "kubernetes/service.yaml") {
		switch d.Kind {
		case "PodDisruptionBudget":
			pdb = d.Spec.MinAvailable >= 1 && d.Spec.Selector.MatchLabels["app"] == "broker"
		case "Service":
			svc = len(d.Spec.Ports) > 0 && d.Spec.Ports[0].TargetPort == "http"
		}
	}
	if !pdb || !svc {
		t.Fatalf("service.yaml: PodDisruptionBudget ok=%v, Service to the named port ok=%v", pdb, svc)
	}
}

func TestSystemdUnit(t *testing.T) {
	unit := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "systemd/broker.service")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		unit[k] = append(unit[k], v)
	}
	for _, k := range []string{"DynamicUser", "ProtectSystem", "StateDirectory", "NoNewPrivileges"} {
		if len(unit[k]) == 0 {
			t.Fatalf("unit lacks %s", k)
		}
	}
	if unit["ProtectSystem"][0] != "strict" || unit["DynamicUser"][0] != "yes" {
		t.Fatal("unit is not hardened: ProtectSystem=strict and DynamicUser=yes expected")
	}
	exec := strings.Fields(unit["ExecStart"][0])
	if len(exec) < 4 || exec[1] != "serve" || exec[2] != "-c" {
		t.Fatalf("ExecStart %q: want `broker serve -c FILE`", unit["ExecStart"][0])
	}
	env := map[string]string{}
	for _, e := range unit["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	// EnvironmentFile provides the secrets, as the unit's comment tells.
	for _, k := range []string{"BROKER_PUBLIC_URL", "BROKER_ADMIN_TOKEN", "BROKER_STATE_KEY", "BROKER_ENCRYPTION_KEY"} {
		env[k] = secretValues[k]
	}
	cfg := loadWith(t, readFile(t, "broker.yaml"), env, nil)
	if cfg.Store.Driver != "sqlite" || cfg.Server.DataDir != "/var/lib/"+unit["StateDirectory"][0] {
		t.Fatalf("driver %q dataDir %q: want sqlite in the state directory", cfg.Store.Driver, cfg.Server.DataDir)
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(cfg.Server.Listen) {
		t.Fatalf("listen %q: the unit serves on loopback behind a reverse proxy", cfg.Server.Listen)
	}
}

func TestDockerfile(t *testing.T) {
	df := string(readFile(t, "Dockerfile"))
	for _, want := range []string{"CGO_ENABLED=0", "distroless/static", "nonroot", "VOLUME", `CMD ["serve"]`} {
		if !strings.Contains(df, want) {
			t.Fatalf("Dockerfile lacks %q", want)
		}
	}
}
