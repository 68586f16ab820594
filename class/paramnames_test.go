package class_test

import (
	"slices"
	"testing"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/class"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

func TestParamNamesAreTheClassesAndTheModes(t *testing.T) {
	names, err := class.ParamNames(class.Catalog{Services: provider.Services(), Modes: auth.Modes()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"objects", "region", "failoverRegion", "pathTranslation", "preferredAddressType",
		"assumeRoleArn", "assumeRoleExternalId", "assumeRoleDurationSeconds", "tokenAudience", "usePodIdentity"}
	if !slices.Equal(names, want) {
		t.Errorf("ParamNames = %q, want %q", names, want)
	}
}
