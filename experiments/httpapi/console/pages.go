package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/promolift/promolift/experiments"
	"github.com/promolift/promolift/experiments/httpapi"
)

// ---- experiments list ----

// listRow is one experiment of the list.
type listRow struct {
	E           *experiments.Experiment
	Days        string
	Units       int64
	Lift        string
	LiftCI      string
	Significant bool
	Decision    string
	DecisionAct string
	SRM         string
	SRMBad      bool
	Budget      string
	BudgetBad   bool
	ReportError string
}

type listData struct {
	Status   string
	Statuses []string
	Rows     []listRow
}

var statuses = []string{"draft", "running", "paused", "stopped", "archived"}

func (c *Console) listExperiments(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(statuses, status) {
		c.fail(w, r, http.StatusBadRequest, "Bad filter", "status must be one of "+strings.Join(statuses, ", "))
		return
	}
	list, err := c.svc.ListExperiments(r.Context(), experiments.ExperimentFilter{Environment: who(r).Environment, Status: experiments.Status(status)})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d := listData{Status: status, Statuses: statuses}
	for _, e := range list {
		d.Rows = append(d.Rows, c.summarize(r, e))
	}
	c.render(w, r, http.StatusOK, "list", "Experiments", "experiments", d)
}

// summarize is an experiment's row: its report's headline figures for an
// experiment that has started.
func (c *Console) summarize(r *http.Request, e *experiments.Experiment) listRow {
	row := listRow{E: e, Days: "—", Lift: "—", Decision: "—", SRM: "—", Budget: "—"}
	if !e.StartedAt.IsZero() {
		end := time.Now()
		if !e.EndedAt.IsZero() {
			end = e.EndedAt
		}
		row.Days = strconv.Itoa(int(end.Sub(e.StartedAt).Hours() / 24))
	}
	if e.Status == experiments.StatusDraft {
		return row
	}
	rep, err := c.reports.Report(r.Context(), e, experiments.ReportOptions{})
	if err != nil {
		c.log.Warn("console: report", "experiment", e.Key, "err", err)
		row.ReportError = "report not available"
		return row
	}
	resp := httpapi.NewReportResponse(rep)
	for _, v := range resp.Variants {
		row.Units += v.Units
	}
	h := resp.Headline
	if h.Lift != nil {
		row.Lift = signed(*h.Lift) + " on " + h.Metric
		row.LiftCI = "[" + signed(h.CI[0]) + ", " + signed(h.CI[1]) + "]"
		row.Significant = h.Significant
	} else if h.Error != nil {
		row.Lift = "not yet: " + httpapi.PlainCode(*h.Error)
	}
	row.Decision, row.DecisionAct = httpapi.ActionLabel(resp.Decision.Action), resp.Decision.Action
	switch {
	case resp.Analysis.SRM.Flagged:
		row.SRM, row.SRMBad = "mismatch", true
	case len(resp.Analysis.SRM.Warnings) > 0:
		row.SRM = "too early to check"
	default:
		row.SRM = "healthy"
	}
	var spent, budget int64
	for _, s := range resp.Spend {
		spent += s.Spent
		if s.Budget != nil {
			budget += *s.Budget
		}
		row.BudgetBad = row.BudgetBad || s.BudgetExhausted
	}
	if resp.Spend != nil {
		money := httpapi.Money(resp.Currency)
		row.Budget = money(float64(spent)) + " spent"
		if budget > 0 {
			row.Budget += " of " + money(float64(budget)) + fmt.Sprintf(" (%.0f%%)", 100*float64(spent)/float64(budget))
		} else {
			row.Budget += ", no budget"
		}
	}
	return row
}

func signed(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
	if v >= 0 {
		s = "+" + s
	}
	return s
}

// ---- create and edit ----

type formData struct {
	Form   *experimentForm
	Errors []httpapi.FieldError
	Edit   bool
	Key    string
	Types  []string
	Rules  []string
	Ops    []struct{ Op, Label string }
}

var promotionTypes = []string{"none", "percent_off", "amount_off", "cashback", "free_shipping", "bundle", "points", "free_trial"}

var costRules = []string{"per_redemption", "per_exposure", "fixed"}

func (c *Console) renderForm(w http.ResponseWriter, r *http.Request, status int, f *experimentForm, errs []httpapi.FieldError, edit bool, key string) {
	if len(f.Conds) == 0 {
		f.Conds = []condRow{{}}
	}
	f.Variants = max(f.Variants, 2)
	title := "New experiment"
	if edit {
		title = "Edit " + key
	}
	c.render(w, r, status, "form", title, "new", formData{Form: f, Errors: errs, Edit: edit, Key: key,
		Types: promotionTypes, Rules: costRules, Ops: builderOps})
}

func (c *Console) newExperiment(w http.ResponseWriter, r *http.Request) {
	c.renderForm(w, r, http.StatusOK, newForm(who(r).Environment), nil, false, "")
}

// growForm answers the form's own buttons (add a variant row, add a
// targeting row) by showing it again, one row longer; true when it did.
func (c *Console) growForm(w http.ResponseWriter, r *http.Request, f *experimentForm, edit bool, key string) bool {
	switch r.PostForm.Get("_op") {
	case "add_variant":
		f.Variants = min(max(f.Variants, 2)+1, maxFormVariants)
	case "add_condition":
		if len(f.Conds) < maxFormConditions {
			f.Conds = append(f.Conds, condRow{})
		}
	default:
		return false
	}
	c.renderForm(w, r, http.StatusOK, f, nil, edit, key)
	return true
}

// checkForm decodes the posted form and validates it with the API's
// validation; every field at fault is returned, and nothing is stored.
func (c *Console) checkForm(r *http.Request) (*experimentForm, *experiments.Experiment, []httpapi.FieldError) {
	f, errs := decodeExperimentForm(r.PostForm)
	e := f.Req.Experiment()
	if env := who(r).Environment; env != "" && e.Environment != "" && e.Environment != env {
		errs = append(errs, httpapi.FieldError{Field: "environment", Code: "forbidden_environment",
			Detail: "environment: your key manages only the environment " + env})
	}
	if err := c.svc.ValidateExperiment(e); err != nil {
		for _, fe := range httpapi.FieldErrors(err) {
			if !slices.ContainsFunc(errs, func(x httpapi.FieldError) bool { return x.Field == fe.Field && fe.Field != "" }) {
				errs = append(errs, fe)
			}
		}
	}
	return f, e, errs
}

func (c *Console) createExperiment(w http.ResponseWriter, r *http.Request) {
	f, e, errs := c.checkForm(r)
	if c.growForm(w, r, f, false, "") {
		return
	}
	if env := who(r).Environment; env != "" && e.Environment == "" {
		e.Environment = env
	}
	if len(errs) == 0 {
		if err := c.svc.CreateExperiment(r.Context(), who(r), e); err != nil {
			errs = httpapi.FieldErrors(err)
		}
	}
	if len(errs) > 0 {
		c.renderForm(w, r, http.StatusUnprocessableEntity, f, errs, false, "")
		return
	}
	http.Redirect(w, r, "/console/experiments/"+url.PathEscape(e.Key)+"?notice=created", http.StatusSeeOther)
}

func (c *Console) editExperiment(w http.ResponseWriter, r *http.Request) {
	e, err := c.visible(r, r.PathValue("key"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if c.notDraft(w, r, e) {
		return
	}
	f := formOf(e)
	c.renderForm(w, r, http.StatusOK, f, nil, true, e.Key)
}

// notDraft answers 409 for an experiment that is no longer a draft.
func (c *Console) notDraft(w http.ResponseWriter, r *http.Request, e *experiments.Experiment) bool {
	if e.Status == experiments.StatusDraft {
		return false
	}
	c.fail(w, r, http.StatusConflict, "Not a draft", "only a draft can be edited; this experiment is "+strings.ToLower(httpapi.StatusLabel(string(e.Status))))
	return true
}

func (c *Console) updateExperiment(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	cur, err := c.visible(r, key)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if c.notDraft(w, r, cur) {
		return
	}
	r.PostForm.Set("key", key)
	f, e, errs := c.checkForm(r)
	if c.growForm(w, r, f, true, key) {
		return
	}
	if len(errs) == 0 {
		if _, err := c.svc.UpdateExperiment(r.Context(), who(r), e); err != nil {
			errs = httpapi.FieldErrors(err)
		}
	}
	if len(errs) > 0 {
		c.renderForm(w, r, http.StatusUnprocessableEntity, f, errs, true, key)
		return
	}
	http.Redirect(w, r, "/console/experiments/"+url.PathEscape(key)+"?notice=saved", http.StatusSeeOther)
}

// ---- one experiment ----

type showData struct {
	E       *experiments.Experiment
	Row     listRow
	Actions []string
	Notice  string
	JSON    string
}

// actions are the lifecycle actions, in the order the page offers them.
var actions = []experiments.Action{experiments.ActionStart, experiments.ActionPause, experiments.ActionResume,
	experiments.ActionStop, experiments.ActionArchive}

func (c *Console) showExperiment(w http.ResponseWriter, r *http.Request) {
	e, err := c.visible(r, r.PathValue("key"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d := showData{E: e, Row: c.summarize(r, e)}
	for _, a := range actions {
		if _, err := e.Status.Next(a); err == nil {
			d.Actions = append(d.Actions, string(a))
		}
	}
	switch r.URL.Query().Get("notice") {
	case "created":
		d.Notice = "Created as a draft. Check it, then start it when ready."
	case "saved":
		d.Notice = "Saved."
	case "start", "pause", "resume", "stop", "archive":
		d.Notice = "Done: the experiment is now " + strings.ToLower(httpapi.StatusLabel(string(e.Status))) + "."
	}
	c.render(w, r, http.StatusOK, "experiment", e.Name, "experiments", d)
}

// ---- lifecycle ----

type confirmData struct {
	E      *experiments.Experiment
	Action string
	Label  string
	What   []string
}

// consequences say what an action does, for the confirmation page.
func consequences(e *experiments.Experiment, a experiments.Action) []string {
	var split []string
	for _, v := range e.Variants {
		split = append(split, fmt.Sprintf("%s %.0f%% (%s)", v.Key, 100*v.Weight, strings.ReplaceAll(string(v.Promotion.Type), "_", " ")))
	}
	switch a {
	case experiments.ActionStart:
		return []string{
			fmt.Sprintf("Customers who match the targeting (%s of them) start to be assigned: %s.", pctOf(e.Coverage), strings.Join(split, ", ")),
			"Each assigned customer is shown their variant's promotion, and promotion costs start to count against the budgets.",
			"The definition can no longer be edited; weights can only be changed by re-randomizing.",
		}
	case experiments.ActionPause:
		return []string{"Nobody is assigned while it is paused: every customer gets no promotion from this experiment.",
			"The data collected so far is kept; resume to continue."}
	case experiments.ActionResume:
		return []string{"Customers are assigned again, each to the same variant as before (" + strings.Join(split, ", ") + ")."}
	case experiments.ActionStop:
		return []string{"The experiment ends for good: nobody is assigned and no promotion is shown from it any more.",
			"The report stays available. A stopped experiment cannot be started again."}
	case experiments.ActionArchive:
		return []string{"The experiment is put away: it no longer runs and leaves the lists of active experiments.",
			"Its report stays available. This cannot be undone."}
	}
	return nil
}

func pctOf(v float64) string { return strconv.FormatFloat(100*v, 'f', -1, 64) + "%" }

// actionOf reads an action from the path, refusing unknown ones.
func actionOf(s string) (experiments.Action, bool) {
	for _, a := range actions {
		if string(a) == s {
			return a, true
		}
	}
	return "", false
}

func (c *Console) confirmTransition(w http.ResponseWriter, r *http.Request) {
	e, err := c.visible(r, r.PathValue("key"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	a, ok := actionOf(r.PathValue("action"))
	if !ok {
		c.fail(w, r, http.StatusNotFound, "Not found", "unknown action")
		return
	}
	if _, err := e.Status.Next(a); err != nil {
		c.failErr(w, r, err)
		return
	}
	label := strings.ToUpper(string(a[:1])) + string(a[1:])
	c.render(w, r, http.StatusOK, "confirm", label+" "+e.Name+"?", "experiments",
		confirmData{E: e, Action: string(a), Label: label, What: consequences(e, a)})
}

func (c *Console) transition(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	a, ok := actionOf(r.PathValue("action"))
	if !ok {
		c.fail(w, r, http.StatusNotFound, "Not found", "unknown action")
		return
	}
	if _, err := c.visible(r, key); err != nil {
		c.failErr(w, r, err)
		return
	}
	if _, err := c.svc.Transition(r.Context(), who(r), key, a); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/experiments/"+url.PathEscape(key)+"?notice="+string(a), http.StatusSeeOther)
}

// ---- which variant does a customer get ----

type explainData struct {
	E          *experiments.Experiment
	Unit       string
	Attributes string
	Asked      bool
	Variant    string
	InExp      bool
	Why        string
	Bucket     string
	Error      string
}

// reasonTexts explain an assignment's reason (package assign's reasons
// and the customer's rights).
var reasonTexts = map[string]string{
	"assigned":            "the customer's id hashes into this variant's share of traffic",
	"stickyBucket":        "the customer was assigned this variant before and keeps it (sticky bucketing)",
	"forced":              "the variant is forced for this customer",
	"forcedByExperiment":  "the experiment forces this variant",
	"tooFewVariations":    "the experiment has fewer than two variants",
	"disabled":            "assignment is disabled",
	"inactive":            "the experiment is not running",
	"noHashAttribute":     "the customer has no value for the attribute the experiment hashes",
	"holdout":             "the customer is in the holdout",
	"stickyBucketBlocked": "the customer's earlier assignment is from before a re-randomization and blocks a new one",
	"filtered":            "a filter keeps the customer out",
	"namespace":           "the customer falls outside the experiment's namespace or layer slice",
	"condition":           "the customer does not match the targeting condition",
	"prerequisite":        "a prerequisite is not met",
	"invalidHashVersion":  "the hash version is not supported",
	"coverage":            "the customer falls outside the experiment's coverage",
	"qaMode":              "QA mode",
}

func (c *Console) explain(w http.ResponseWriter, r *http.Request) {
	e, err := c.visible(r, r.PathValue("key"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	q := r.URL.Query()
	d := explainData{E: e, Unit: strings.TrimSpace(q.Get("unit")), Attributes: q.Get("attributes")}
	if d.Unit == "" {
		c.render(w, r, http.StatusOK, "explain", "Which variant does a customer get?", "experiments", d)
		return
	}
	d.Asked = true
	attrs := map[string]any{}
	for _, line := range strings.Split(d.Attributes, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && strings.TrimSpace(k) != "" {
			attrs[strings.TrimSpace(k)] = scalar(strings.TrimSpace(v))
		}
	}
	if e.Status != experiments.StatusRunning {
		d.Variant = e.Variants[0].Key
		d.Why = "the experiment is " + strings.ToLower(httpapi.StatusLabel(string(e.Status))) + ", so nobody is assigned: every customer gets " +
			e.Variants[0].Key + " (no promotion from this experiment)"
		c.render(w, r, http.StatusOK, "explain", "Which variant does a customer get?", "experiments", d)
		return
	}
	p := who(r)
	p.Environment = e.Environment
	res, err := c.svc.Assign(r.Context(), p, experiments.AssignRequest{UnitID: d.Unit, Attributes: attrs,
		Experiments: []string{e.Key}, LogExposure: false})
	if err != nil || len(res) != 1 {
		fe := httpapi.FieldErrors(err)
		d.Error = "could not evaluate: " + fe[0].Detail
		c.render(w, r, http.StatusUnprocessableEntity, "explain", "Which variant does a customer get?", "experiments", d)
		return
	}
	a := res[0]
	d.Variant, d.InExp = a.Variant, a.InExperiment
	d.Why = reasonTexts[a.Reason]
	if d.Why == "" {
		d.Why = httpapi.PlainCode(a.Reason)
	}
	if a.InExperiment {
		d.Bucket = fmt.Sprintf("hash of %s = %q falls at %.4f", a.HashAttribute, a.HashValue, a.Bucket)
	}
	c.render(w, r, http.StatusOK, "explain", "Which variant does a customer get?", "experiments", d)
}

// ---- flags ----

func (c *Console) listFlags(w http.ResponseWriter, r *http.Request) {
	flags, err := c.svc.ListFlags(r.Context(), who(r).Environment)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "flags", "Flags", "flags", flags)
}

type flagData struct {
	F        *experiments.Flag
	Variants string
	Rules    string
	Errors   []httpapi.FieldError
	Notice   string
}

func (c *Console) flagOf(r *http.Request) (*experiments.Flag, error) {
	f, err := c.svc.GetFlag(r.Context(), r.PathValue("key"))
	if err != nil {
		return nil, err
	}
	if env := who(r).Environment; env != "" && f.Environment != env {
		return nil, &experiments.Error{Kind: experiments.KindNotFound, Code: "not_found", Message: "no flag " + f.Key}
	}
	return f, nil
}

func (c *Console) showFlag(w http.ResponseWriter, r *http.Request) {
	f, err := c.flagOf(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d := flagData{F: f, Variants: indentJSON(f.Variants), Rules: indentJSON(flagRules(f))}
	if r.URL.Query().Get("notice") == "saved" {
		d.Notice = "Saved."
	}
	c.render(w, r, http.StatusOK, "flag", "Flag "+f.Key, "flags", d)
}

func flagRules(f *experiments.Flag) []httpapi.FlagRuleDTO {
	out := []httpapi.FlagRuleDTO{}
	for _, rr := range f.Rules {
		out = append(out, httpapi.FlagRuleDTO{ID: rr.ID, Condition: rr.Condition, Variant: rr.Variant,
			Rollout: rr.Rollout, Experiment: rr.Experiment, Seed: rr.Seed})
	}
	return out
}

func indentJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// updateFlag saves the flag form: description, enabled, default_variant,
// and variants and rules as JSON, validated by the API's code.
func (c *Console) updateFlag(w http.ResponseWriter, r *http.Request) {
	cur, err := c.flagOf(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	form := r.PostForm
	req := httpapi.FlagRequest{Key: cur.Key, Environment: cur.Environment, Type: string(cur.Type),
		Description: strings.TrimSpace(form.Get("description")), DefaultVariant: strings.TrimSpace(form.Get("default_variant")),
		Enabled: form.Get("enabled") != ""}
	var errs []httpapi.FieldError
	if err := json.Unmarshal([]byte(form.Get("variants")), &req.Variants); err != nil {
		errs = append(errs, httpapi.FieldError{Field: "variants", Code: "invalid_json", Detail: "variants: must be a JSON object of variant → value"})
	}
	if s := strings.TrimSpace(form.Get("rules")); s != "" {
		if err := json.Unmarshal([]byte(s), &req.Rules); err != nil {
			errs = append(errs, httpapi.FieldError{Field: "rules", Code: "invalid_json", Detail: "rules: must be a JSON array of rules"})
		}
	}
	if len(errs) == 0 {
		if err := c.svc.UpdateFlag(r.Context(), who(r), req.Flag()); err != nil {
			errs = httpapi.FieldErrors(err)
		}
	}
	if len(errs) > 0 {
		d := flagData{F: cur, Variants: form.Get("variants"), Rules: form.Get("rules"), Errors: errs}
		f := *cur
		f.Description, f.DefaultVariant, f.Enabled = req.Description, req.DefaultVariant, req.Enabled
		d.F = &f
		c.render(w, r, http.StatusUnprocessableEntity, "flag", "Flag "+cur.Key, "flags", d)
		return
	}
	http.Redirect(w, r, "/console/flags/"+url.PathEscape(cur.Key)+"?notice=saved", http.StatusSeeOther)
}

// ---- keys and audit (admins) ----

type keysData struct {
	Keys   []*experiments.APIKey
	Token  string // a key just created, shown once
	Name   string
	Errors []httpapi.FieldError
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, status int, d keysData) {
	keys, err := c.svc.ListKeys(r.Context(), who(r).Environment)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d.Keys = keys
	c.render(w, r, status, "keys", "API keys", "keys", d)
}

func (c *Console) listKeys(w http.ResponseWriter, r *http.Request) {
	c.keysPage(w, r, http.StatusOK, keysData{})
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	scope := experiments.Scope(r.PostForm.Get("scope"))
	env := strings.TrimSpace(r.PostForm.Get("environment"))
	k, token, err := c.svc.CreateKey(r.Context(), who(r), name, scope, env)
	if err != nil {
		c.keysPage(w, r, http.StatusUnprocessableEntity, keysData{Name: name, Errors: httpapi.FieldErrors(err)})
		return
	}
	// The secret is shown on this answer only (no redirect, no cache).
	c.keysPage(w, r, http.StatusCreated, keysData{Token: token, Name: k.Name})
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := c.svc.RevokeKey(r.Context(), who(r), r.PathValue("id")); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/keys", http.StatusSeeOther)
}

type auditData struct {
	Entries []*experiments.AuditEntry
	Next    int64
}

func (c *Console) listAudit(w http.ResponseWriter, r *http.Request) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	const limit = 100
	entries, err := c.svc.Audit(r.Context(), limit, before, who(r).Environment)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d := auditData{Entries: entries}
	if len(entries) == limit {
		d.Next = entries[len(entries)-1].ID
	}
	c.render(w, r, http.StatusOK, "audit", "Audit log", "audit", d)
}
