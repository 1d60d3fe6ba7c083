package config

import (
	"strconv"
	"strings"
	"testing"
)

// TestSubjectBound: a template is accepted while its longest rendering (64 characters per
// token with a placeholder) stays within 1024, and a literal token within 64 characters.
func TestSubjectBound(t *testing.T) {
	placeholders := func(n int) string { return strings.Repeat(".{category}", n) }
	for _, c := range []struct {
		tmpl    string
		longest int // 0: accepted
		token   bool
	}{
		{tmpl: "alerts.{source}.{tenant}.{severity}"},
		{tmpl: "alerts" + placeholders(15)},                                    // 6 + 15 × 65 = 981
		{tmpl: strings.Repeat("a", 38) + placeholders(15)},                     // 1013
		{tmpl: strings.Repeat("a", 49) + placeholders(15)},                     // exactly 1024
		{tmpl: strings.Repeat("a", 50) + placeholders(15), longest: 1025},      // one over
		{tmpl: "alerts" + placeholders(16), longest: 1046},                     // the bad config's
		{tmpl: "alerts." + strings.Repeat("x", 64) + ".{source}"},              // a literal token of 64
		{tmpl: "alerts." + strings.Repeat("x", 65) + ".{source}", token: true}, // of 65
	} {
		err := checkSubject(c.tmpl)
		switch {
		case c.longest == 0 && !c.token && err != nil:
			t.Errorf("%d characters: %v", len(c.tmpl), err)
		case c.longest > 0 && (err == nil || !strings.Contains(err.Error(), "renders up to "+strconv.Itoa(c.longest)+" characters")):
			t.Errorf("%s: err = %v, want one saying it renders up to %d", c.tmpl, err, c.longest)
		case c.token && (err == nil || !strings.Contains(err.Error(), "longer than 64 characters")):
			t.Errorf("%s: err = %v, want one about a token over 64", c.tmpl, err)
		}
	}
}
