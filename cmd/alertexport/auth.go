package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/alertexport/alertexport/config"
	"github.com/alertexport/alertexport/internal/app"
	"github.com/alertexport/alertexport/sources/auth"
	"github.com/alertexport/alertexport/sources/httpclient"
	"github.com/alertexport/alertexport/sources/registry"
)

// authCheck gets a token for every enabled (tenant, source) and checks its claims; exit 1 if any
// check fails.
func (c cli) authCheck(ctx context.Context, args []string) int {
	fs := c.newFlags("auth check")
	path := c.configFlag(fs)
	only := fs.String("tenant", "", "check only the tenant with this name")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, _, ok := c.loadConfig(*path, c.stderr)
	if !ok {
		return exitBadConfig
	}
	tenants := cfg.Tenants
	if *only != "" {
		tenants = nil
		var names []string
		for _, t := range cfg.Tenants {
			names = append(names, t.Name)
			if t.Name == *only {
				tenants = append(tenants, t)
			}
		}
		if tenants == nil {
			fmt.Fprintf(c.stderr, "no tenant named %q in %s; tenants: %s\n", *only, *path, strings.Join(names, ", "))
			return exitBadConfig
		}
	}
	hc, err := httpclient.New(httpclient.Options{CAFile: cfg.Worker.CAFile})
	if err != nil {
		fmt.Fprintf(c.stderr, "[worker] %v\n", err)
		return exitBadConfig
	}
	defer hc.CloseIdleConnections()
	log := app.NewLogger(cfg.Log, c.stderr)
	failed := false
	for _, t := range tenants {
		sources := t.Sources()
		if len(sources) == 0 {
			fmt.Fprintf(c.stdout, "SKIP  %s: no enabled source\n", t.Name)
			continue
		}
		p, err := auth.New(t, auth.Options{HTTPClient: hc, Env: c.env, Logger: log, Retry: auth.InteractiveRetry, Context: ctx})
		for _, s := range sources {
			var r auth.CheckResult
			if err != nil {
				r = auth.CheckResult{Tenant: t.Name, Source: s.Kind, Problems: []string{err.Error()}}
			} else {
				r = auth.Check(ctx, p, s, c.now())
			}
			failed = failed || !r.OK()
			fmt.Fprintln(c.stdout, formatCheck(r, c.now()))
		}
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

// formatCheck prints one line per check: result, job, the token's claims (never the token), and
// what to fix.
func formatCheck(r auth.CheckResult, now time.Time) string {
	status := "OK  "
	if !r.OK() {
		status = "FAIL"
	}
	line := fmt.Sprintf("%s  %s/%s", status, r.Tenant, r.Source)
	if cl := r.Claims; cl != nil {
		roles := strings.Join(cl.Roles, ",")
		if roles == "" {
			roles = "(none)"
		}
		exp := "(none)"
		if !cl.ExpiresAt.IsZero() {
			exp = fmt.Sprintf("%s (in %s)", cl.ExpiresAt.Format(time.RFC3339), cl.ExpiresAt.Sub(now).Round(time.Minute))
		}
		line += fmt.Sprintf("  aud=%s tid=%s appid=%s roles=%s exp=%s", cl.Audience, cl.TenantID, cl.AppID, roles, exp)
	}
	if len(r.Problems) > 0 {
		line += "\n      " + strings.Join(r.Problems, "\n      ")
	}
	return line
}

// consentURL prints the admin-consent link for a multi-tenant (partner) app registration.
func (c cli) consentURL(args []string) int {
	fs := c.newFlags("consent-url")
	clientID := fs.String("client-id", "", "the app registration's Application (client) ID (required)")
	cloudName := fs.String("cloud", "public", "public | gcc | gcc-high | dod")
	tenant := fs.String("tenant", "", "the customer's tenant ID or domain (default: common, the admin's own tenant)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cloud, ok := config.LookupCloud(*cloudName)
	switch {
	case *clientID == "":
		fmt.Fprintln(c.stderr, "alertexport consent-url: --client-id is required (the Application (client) ID, a GUID)")
		return exitBadConfig
	case !config.IsGUID(*clientID):
		fmt.Fprintf(c.stderr, "alertexport consent-url: --client-id %q is not a GUID\n", *clientID)
		return exitBadConfig
	case !ok:
		fmt.Fprintf(c.stderr, "alertexport consent-url: --cloud %q is not one of %s\n", *cloudName, strings.Join(config.CloudNames(), ", "))
		return exitBadConfig
	case *tenant != "" && !config.IsGUID(*tenant) && !domainRE.MatchString(*tenant):
		fmt.Fprintf(c.stderr, "alertexport consent-url: --tenant %q is neither a tenant ID (GUID) nor a domain such as contoso.onmicrosoft.com\n", *tenant)
		return exitBadConfig
	}
	fmt.Fprintln(c.stdout, auth.ConsentURL(cloud, *clientID, *tenant))
	fmt.Fprintln(c.stderr, "An administrator of the customer's tenant opens this link, signs in and accepts the app's permissions;\n"+
		"the app then exists in that tenant. Add the tenant to the config and run `alertexport auth check`.")
	// What the app registration must list for this cloud (the consent grants exactly those).
	fmt.Fprintf(c.stderr, "In the %s cloud the app registration needs these application permissions:\n", cloud.Name)
	for _, a := range registry.APIs {
		fmt.Fprintf(c.stderr, "  %-55s %-45s %s\n", a.Consent(), a.Hosts[cloud.Name].Resource(), a.Roles[0])
	}
	return exitOK
}

// domainRE matches a tenant's domain name, which Entra ID accepts in place of its ID.
var domainRE = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$`)
