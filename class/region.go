package class

import (
	"regexp"

	"github.com/csi-provider-aws/csi-provider-aws/failure"
)

// regionRE accepts the shape of every AWS region name: a two to four letter
// area, one or more words, a number ("us-east-1", "us-gov-west-1",
// "cn-north-1", "eu-isoe-west-1", "us-isob-east-1", "eusc-de-east-1").
// Regions become endpoint host names, so anything else is refused before it
// reaches the SDK (docs/design.md, invariant 5).
var regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)

// CheckRegion checks the class against the resolved primary region (the
// class's region, else the daemon's AWS_REGION, else the node's region
// label): it is a region name, the failover region differs from it and
// every ARN names the region it is read in. It changes nothing: the caller
// passes the region on with the class (FetchRequest.Region).
func (c *Class) CheckRegion(primary string) error {
	if primary == "" {
		return failure.New(failure.FailedPrecondition,
			"no region: the SecretProviderClass sets no region, the daemon has no AWS_REGION and the node has no topology.kubernetes.io/region label; set region in the SecretProviderClass")
	}
	if err := checkRegionName("region", primary); err != nil {
		return err
	}
	if c.FailoverRegion == primary {
		return invalidArg("failoverRegion %q is the same as the primary region %q; name a different region or remove failoverRegion", c.FailoverRegion, primary)
	}
	return c.checkARNRegions(primary)
}

// checkARNRegions checks that each ARN names the region it will be read in:
// an object's ARN the primary region, its failoverObject's ARN the failover
// region. AWS would refuse the call anyway; this says why before any call.
func (c *Class) checkARNRegions(primary string) error {
	for i := range c.Objects {
		o := &c.Objects[i]
		if a, ok := parseARN(o.Name); ok && a.region != primary {
			return invalidArg("%s: the ARN is in region %q but the primary region is %q; use the ARN of the replica in %s, or set region to %s",
				o.Label(), a.region, primary, primary, a.region)
		}
		if o.Failover == nil || o.Failover.Name == o.Name {
			// An inherited failover name is the primary's own name; its
			// region was checked above and the fetcher owns what it means
			// in the failover region.
			continue
		}
		if a, ok := parseARN(o.Failover.Name); ok && a.region != c.FailoverRegion {
			return invalidArg("%s: failoverObject ARN %q is in region %q but failoverRegion is %q; use the ARN of the replica in %s",
				o.Label(), o.Failover.Name, a.region, c.FailoverRegion, c.FailoverRegion)
		}
	}
	return nil
}

func checkRegionName(field, r string) error {
	if len(r) > maxRegionLength || !regionRE.MatchString(r) {
		return invalidArg("%s %s is not an AWS region name; use one such as \"us-east-1\"", field, short(r))
	}
	return nil
}
