package provider

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/csi-provider-aws/csi-provider-aws/class"
)

// parametersListForm is how a class lists parameters: by path
// (objectPath), recursively unless it says recursive: false.
var parametersListForm = class.ListForm{Field: "objectPath", Path: true, Check: checkParameterPath}

// parameterPathChars are the characters of an SSM parameter name.
var parameterPathChars = regexp.MustCompile(`^[A-Za-z0-9/_.-]+$`)

// checkParameterPath refuses a path no parameter can be under.
func checkParameterPath(p string) string {
	if !parameterPathChars.MatchString(p) {
		return "holds a character no parameter name has; parameter names use letters, digits and /_.-"
	}
	return ""
}

// parametersPerPathPage is GetParametersByPath's largest page.
const parametersPerPathPage = 10

// listParameters reads every parameter under the listing's path with
// GetParametersByPath (SecureString decrypted), ten a page: the
// parameters directly under it, or its whole tree when recursive. Each
// answer is checked to lie under the path.
func listParameters(ctx context.Context, l listRead) ([]Member, error) {
	api := l.clients.ParameterStore(l.region)
	ms := &members{l: l, noun: "parameters"}
	base := strings.TrimRight(l.listing.Prefix, "/") + "/"
	in := &ssm.GetParametersByPathInput{
		Path:           aws.String(l.listing.Prefix),
		Recursive:      aws.Bool(l.listing.Recursive),
		WithDecryption: aws.Bool(true),
		MaxResults:     aws.Int32(parametersPerPathPage),
	}
	for {
		page, err := api.GetParametersByPath(ctx, in, func(o *ssm.Options) { o.Credentials = l.creds })
		if err != nil {
			return nil, err
		}
		for _, p := range page.Parameters {
			name := aws.ToString(p.Name)
			if !strings.HasPrefix(name, base) || (!l.listing.Recursive && strings.Contains(name[len(base):], "/")) {
				continue
			}
			m := Member{Name: name, Data: []byte(aws.ToString(p.Value)), Version: strconv.FormatInt(p.Version, 10)}
			if err := ms.add(m); err != nil {
				return nil, err
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return ms.done("ParameterNotFound")
		}
		in.NextToken = page.NextToken
	}
}
