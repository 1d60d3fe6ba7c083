package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// pinnedRE is an image reference with a tag (for the reader) and a sha256 digest (for the
// builder): name:tag@sha256:<64 hex>.
var pinnedRE = regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)

// TestDockerfilePinsEveryBaseImageByDigest: every FROM of the Dockerfile names its image by
// tag and digest (or an earlier stage), and no "# syntax=" directive pulls a frontend by tag,
// so a tag moved upstream cannot change what is built.
func TestDockerfilePinsEveryBaseImageByDigest(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	froms := 0
	// Continuation lines belong to the instruction before them.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if d, ok := strings.CutPrefix(strings.ToLower(line), "#"); ok {
			if strings.HasPrefix(strings.TrimSpace(d), "syntax=") && !strings.Contains(d, "@sha256:") {
				t.Errorf("line %d: %q pulls the Dockerfile frontend by tag", i+1, line)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		froms++
		f = f[1:]
		for len(f) > 0 && strings.HasPrefix(f[0], "--") {
			f = f[1:] // --platform=…
		}
		if len(f) == 0 {
			t.Errorf("line %d: FROM without an image", i+1)
			continue
		}
		image := f[0]
		if len(f) >= 3 && strings.EqualFold(f[1], "AS") {
			stages[strings.ToLower(f[2])] = true
		}
		if !pinnedRE.MatchString(image) && !stages[strings.ToLower(image)] {
			t.Errorf("line %d: FROM %s is not pinned; want name:tag@sha256:<digest> (docker buildx imagetools inspect %s)", i+1, image, image)
		}
	}
	if froms == 0 {
		t.Error("the Dockerfile has no FROM")
	}
}
