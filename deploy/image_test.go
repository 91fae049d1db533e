package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The build context never carries development keys, the token database,
// the repository or caches into an image layer.
func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{"data", ".git", ".cache", "bin"} {
		if !lines[want] {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}

// The data directory of the image belongs to the user the broker runs as,
// so a fresh volume mounted there is writable for SQLite.
func TestImageDataDirOwnedByRuntimeUser(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if !strings.Contains(df, "USER nonroot:nonroot") {
		t.Fatal("the image does not run as distroless's nonroot user")
	}
	if !regexp.MustCompile(`COPY --from=build --chown=65532:65532 \S+ /var/lib/broker`).MatchString(df) {
		t.Error("/var/lib/broker is not created owned by uid 65532 (nonroot)")
	}
	if !strings.Contains(df, `VOLUME ["/var/lib/broker"]`) {
		t.Error("the data directory is not a volume")
	}
}

// The manifests name an image the operator builds, not one nobody
// publishes.
func TestManifestsNameABuiltImage(t *testing.T) {
	for _, f := range []string{"kubernetes/sidecar.yaml", "kubernetes/service.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "ghcr.io/oauthbroker") || !strings.Contains(s, "docker build -f deploy/Dockerfile") {
			t.Errorf("%s does not say which image to build and how", f)
		}
	}
}
