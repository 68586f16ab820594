package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/semaphore"
)

// CallRecorder observes every AWS call the daemon makes: service ("Secrets
// Manager", "SSM", "STS"), operation, region, outcome and latency. It is the
// one seam through which outbound calls are counted (metrics, benchmarks).
type CallRecorder interface {
	ObserveAWSCall(service, operation, region string, err error, took time.Duration)
}

// AWSConfigOptions are the operator's choices for every AWS client.
type AWSConfigOptions struct {
	// HTTPClient is shared by every client (one connection pool). Nil means
	// NewHTTPClient(15s). It is the SDK's buildable client so that
	// AWS_CA_BUNDLE and the SDK's transport options still apply.
	HTTPClient *awshttp.BuildableClient
	// Recorder observes every call; nil records nothing.
	Recorder CallRecorder
	// MaxAttempts bounds the SDK's retries of retryable errors (0 = SDK default).
	MaxAttempts int
	// MaxConcurrent bounds the AWS calls in flight at once, across every
	// service, region and identity (0 = 64). A call waits for a slot within
	// its own deadline, so a burst of Mounts or a slow region cannot open
	// unbounded connections.
	MaxConcurrent int
}

// defaultMaxConcurrent is MaxConcurrent's default.
const defaultMaxConcurrent = 64

// errNoPodIdentity is what a client built from the base config yields when a
// call was made without the pod's credentials: invariant 1 says never fall
// back to the daemon's or the node's own credentials.
var errNoPodIdentity = errors.New("no pod identity credentials were given for this AWS call; refusing to use the daemon's own")

// LoadAWSConfig builds the process-wide AWS configuration from the SDK's
// standard environment (AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// AWS_USE_FIPS_ENDPOINT, proxies through the HTTP client) so that every client
// built from it, STS included, honours the operator's settings. Its own
// credentials always fail: each call passes the pod's credentials.
func LoadAWSConfig(ctx context.Context, opts AWSConfigOptions) (aws.Config, error) {
	hc := opts.HTTPClient
	if hc == nil {
		hc = NewHTTPClient(15 * time.Second)
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithHTTPClient(hc),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errNoPodIdentity
		})),
	}
	// Adaptive retry: the standard retryer (backoff with jitter, a retry
	// quota that stops retrying during a storm) plus client-side rate
	// limiting once AWS throttles, per client (one per service and region).
	loaders = append(loaders, config.WithRetryer(func() aws.Retryer {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			if opts.MaxAttempts > 0 {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = opts.MaxAttempts })
			}
		})
	}))
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration from the environment: %w", err)
	}
	limit := opts.MaxConcurrent
	if limit <= 0 {
		limit = defaultMaxConcurrent
	}
	cfg.APIOptions = append(cfg.APIOptions, boundConcurrency(semaphore.NewWeighted(int64(limit))))
	if opts.Recorder != nil {
		cfg.APIOptions = append(cfg.APIOptions, recordCalls(opts.Recorder))
	}
	return cfg, nil
}

// boundConcurrency adds a middleware that holds one slot of sem for each
// operation (its retries included); a call that cannot get one before its
// deadline fails with that deadline.
func boundConcurrency(sem *semaphore.Weighted) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("csi-provider-aws/concurrency",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if err := sem.Acquire(ctx, 1); err != nil {
					return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("waiting for one of the daemon's AWS call slots: %w", err)
				}
				defer sem.Release(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// NewHTTPClient returns the pooled HTTP client every AWS call shares; it
// honours HTTP(S)_PROXY, NO_PROXY and AWS_CA_BUNDLE. timeout bounds one
// attempt; the SDK retries within the Mount's deadline.
func NewHTTPClient(timeout time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithTimeout(timeout).
		WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConns = 256
			tr.MaxIdleConnsPerHost = 64
			tr.IdleConnTimeout = 90 * time.Second
		})
}

// recordCalls adds a middleware that reports each operation (after the SDK's
// retries) to rec.
func recordCalls(rec CallRecorder) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("csi-provider-aws/record",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				rec.ObserveAWSCall(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx),
					awsmiddleware.GetRegion(ctx), err, time.Since(start))
				return out, md, err
			}), middleware.After)
	}
}

// Clients holds one long-lived client per (service, region), built lazily
// from the process's AWS configuration and shared by every Mount.
// Each service's file adds the accessor of its client.
type Clients struct {
	base aws.Config

	mu      sync.Mutex
	clients map[clientKey]any
}

// clientKey names one client: its service and region.
type clientKey struct{ service, region string }

// NewClients returns a client set built from base (see LoadAWSConfig).
func NewClients(base aws.Config) *Clients {
	return &Clients{base: base, clients: map[clientKey]any{}}
}

// STS returns the STS client for region (regional endpoint), used by package
// auth for AssumeRoleWithWebIdentity; it honours AWS_ENDPOINT_URL_STS.
func (c *Clients) STS(region string) *sts.Client {
	return perRegion(c, "sts", region, func() *sts.Client {
		return sts.NewFromConfig(c.base, func(o *sts.Options) { o.Region = region })
	})
}

// perRegion returns the client of service for region, building it once.
func perRegion[T any](c *Clients, service, region string, build func() T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := clientKey{service, region}
	cl, ok := c.clients[k].(T)
	if !ok {
		cl = build()
		c.clients[k] = cl
	}
	return cl
}
