package runwire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// reasonConstants reads the Reason* string constants of errors.go (name ->
// value), leaving out the deprecated ones.
func reasonConstants(t *testing.T) map[string]string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	constants := map[string]string{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			value := spec.(*ast.ValueSpec)
			doc := value.Doc
			if doc == nil && len(gen.Specs) == 1 {
				doc = gen.Doc
			}
			if doc != nil && strings.Contains(doc.Text(), "Deprecated:") {
				continue
			}
			for i, name := range value.Names {
				if !strings.HasPrefix(name.Name, "Reason") || i >= len(value.Values) {
					continue
				}
				literal, ok := value.Values[i].(*ast.BasicLit)
				if !ok || literal.Kind != token.STRING {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				text, err := strconv.Unquote(literal.Value)
				if err != nil {
					t.Fatal(err)
				}
				constants[name.Name] = text
			}
		}
	}
	return constants
}

// goName is the Go constant name of a reason: AGENT_NOT_FOUND ->
// ReasonAgentNotFound, REQUEST_ID_REUSED -> ReasonRequestIDReused.
func goName(reason string) string {
	name := "Reason"
	for _, word := range strings.Split(reason, "_") {
		if word == "ID" {
			name += word
			continue
		}
		name += word[:1] + strings.ToLower(word[1:])
	}
	return name
}

func TestReasonConstantsAreTheErrorReasonEnum(t *testing.T) {
	constants := reasonConstants(t)
	if len(constants) < 30 {
		t.Fatalf("only %d Reason constants parsed from errors.go", len(constants))
	}
	seen := map[string]bool{}
	for name, value := range constants {
		number, ok := runwirev1.ErrorReason_value[value]
		if !ok || number == 0 {
			t.Errorf("%s = %q is not a value of runwirev1.ErrorReason", name, value)
		}
		if want := goName(value); name != want {
			t.Errorf("%s = %q: want the name %s", name, value, want)
		}
		if seen[value] {
			t.Errorf("two constants have the value %q", value)
		}
		seen[value] = true
	}
	var missing []string
	for value, number := range runwirev1.ErrorReason_value {
		if number != 0 && !seen[value] {
			missing = append(missing, goName(value)+" = \""+value+"\"")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("runwirev1.ErrorReason values without a constant in errors.go: %v", missing)
	}
}

func TestReasonValue(t *testing.T) {
	withReason := func(reason, domain string) *Error {
		st, err := status.New(codes.NotFound, "gone").WithDetails(
			&errdetails.ErrorInfo{Reason: reason, Domain: domain})
		if err != nil {
			t.Fatal(err)
		}
		e, _ := wrapError(st.Err()).(*Error)
		return e
	}
	cases := []struct {
		err  *Error
		want runwirev1.ErrorReason
	}{
		{withReason(ReasonAgentNotFound, Domain), runwirev1.ErrorReason_AGENT_NOT_FOUND},
		{withReason(ReasonDraining, Domain), runwirev1.ErrorReason_DRAINING},
		{withReason("A_REASON_OF_A_NEWER_SERVER", Domain), runwirev1.ErrorReason_ERROR_REASON_UNSPECIFIED},
		{withReason(ReasonAgentNotFound, "example.com"), runwirev1.ErrorReason_ERROR_REASON_UNSPECIFIED},
		{&Error{Code: codes.Unavailable}, runwirev1.ErrorReason_ERROR_REASON_UNSPECIFIED},
	}
	for _, c := range cases {
		if got := c.err.ReasonValue(); got != c.want {
			t.Errorf("%q (domain %q): ReasonValue() = %v, want %v", c.err.Reason, c.err.Domain, got, c.want)
		}
	}
	if got := runwirev1.ErrorReason_AGENT_NOT_FOUND.String(); got != ReasonAgentNotFound {
		t.Errorf("the enum value's name %q is not the wire reason %q", got, ReasonAgentNotFound)
	}
}
