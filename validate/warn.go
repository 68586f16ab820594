package validate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// warn reports what a valid class probably does not mean: a parameter the
// provider does not read, no region, a version pinned where the class
// reads no other, a failoverObject without an objectAlias, a listing
// without one beside other objects.
func (v *validator) warn(file, who string, c *class.Class, params map[string]string) {
	var ws []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !slices.Contains(v.params, k) {
			ws = append(ws, fmt.Sprintf("parameter %q is not one the provider reads (%s), so it is ignored; check its spelling and case",
				k, strings.Join(v.params, ", ")))
		}
	}
	if c.Region == "" {
		ws = append(ws, "no region: the class is read in the daemon's AWS_REGION, else in the region of each pod's node (its topology.kubernetes.io/region label), so where it is read depends on where the pod runs; set region")
	}
	for i := range c.Objects {
		o := &c.Objects[i]
		if o.Version != "" && !readsCurrent(c, o) {
			ws = append(ws, fmt.Sprintf("%s: objectVersion %q pins that version, so a rotation never reaches the pod; remove objectVersion to follow rotations, or mount the current version too, as another object with its own objectAlias",
				o.Label(), o.Version))
		}
		if o.Listing != nil && o.Alias == "" && len(c.Objects) > 1 {
			ws = append(ws, fmt.Sprintf("%s: %s without objectAlias writes its matches at the top of the mount, beside the other objects' files, so an object created later under it can take another file's name and fail the Mount; set objectAlias to give the set a directory of its own",
				o.Label(), o.Listing.Field))
		}
		if o.Failover != nil && o.Alias == "" {
			ws = append(ws, fmt.Sprintf("%s: failoverObject without objectAlias: the file is named after objectName; set objectAlias, so that the file keeps its name when failoverObject comes to name the replica (which requires objectAlias)",
				o.Label()))
		}
	}
	if len(ws) > 0 {
		v.r.warned++
	}
	for _, w := range ws {
		v.r.warning(file, who, w)
	}
}

// readsCurrent reports whether another object of c reads the object o pins
// without a version: then the pin is deliberate (the previous version
// beside the current one).
func readsCurrent(c *class.Class, o *class.Object) bool {
	for i := range c.Objects {
		other := &c.Objects[i]
		if other.Index != o.Index && other.Type == o.Type && other.Name == o.Name && other.Version == "" {
			return true
		}
	}
	return false
}
