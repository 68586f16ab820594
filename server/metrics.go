package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"

	"github.com/csi-provider-aws/csi-provider-aws/auth"
	"github.com/csi-provider-aws/csi-provider-aws/failure"
	"github.com/csi-provider-aws/csi-provider-aws/provider"
)

// Metrics are the daemon's Prometheus series. Labels carry names of
// operations and outcomes only: never an object name, value or identity.
type Metrics struct {
	Registry *prometheus.Registry
	awsCalls *prometheus.CounterVec
	awsTime  *prometheus.HistogramVec
	mounts   *prometheus.CounterVec
	mountDur *prometheus.HistogramVec
	stale    *prometheus.CounterVec
	lookups  *prometheus.CounterVec
	missing  *prometheus.CounterVec
	panics   *prometheus.CounterVec
	refresh  *prometheus.CounterVec
	inFlight prometheus.Gauge
	ready    prometheus.Gauge
}

// NewMetrics registers the daemon's series in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		awsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_api_calls_total",
			Help: "AWS API calls by service, operation, region and outcome (after SDK retries).",
		}, []string{"service", "operation", "region", "outcome"}),
		awsTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "csi_provider_aws_api_call_duration_seconds",
			Help:    "Latency of AWS API calls, including SDK retries.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"service", "operation"}),
		mounts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_mounts_total",
			Help: "Mount requests by outcome (ok or the failure kind).",
		}, []string{"outcome"}),
		mountDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "csi_provider_aws_mount_duration_seconds",
			Help:    "Latency of Mount requests.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"outcome"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_stale_values_served_total",
			Help: "Values served past the cache TTL because AWS could not be reached (within --cache-stale-max), by service.",
		}, []string{"service"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_value_cache_lookups_total",
			Help: "Lookups of one object of a Mount in the value cache: hit (a fresh value served) or miss (none held, or one AWS had to confirm or read again). None with --cache-ttl=0.",
		}, []string{"result"}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_optional_objects_missing_total",
			Help: "Optional objects left out of a Mount because they do not exist, by service (one per object per Mount).",
		}, []string{"service"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_recovered_panics_total",
			Help: "Panics recovered while answering the driver, by gRPC method (each is a bug).",
		}, []string{"method"}),
		refresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csi_provider_aws_credential_refreshes_total",
			Help: "Exchanges of pods' tokens for AWS credentials (STS or the EKS Pod Identity agent), first or ahead of expiry, by auth mode and outcome (ok or the failure kind).",
		}, []string{"mode", "outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "csi_provider_aws_mounts_in_flight",
			Help: "Mount requests being answered now.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "csi_provider_aws_ready",
			Help: "1 while the daemon serves (Kubernetes informers synced, socket listening), 0 while it starts or stops.",
		}),
	}
	m.Registry.MustRegister(m.awsCalls, m.awsTime, m.mounts, m.mountDur, m.stale, m.lookups, m.missing, m.panics,
		m.refresh, m.inFlight, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.zeroKnownSeries()
	return m
}

// zeroKnownSeries creates, at zero, the series whose labels are known in
// advance, so that an alert on their increase sees the first one and a
// dashboard shows 0 rather than nothing.
func (m *Metrics) zeroKnownSeries() {
	for _, r := range []string{"hit", "miss"} {
		m.lookups.WithLabelValues(r)
	}
	for _, s := range provider.Services() {
		m.stale.WithLabelValues(string(s.ObjectType()))
		m.missing.WithLabelValues(string(s.ObjectType()))
	}
	for _, md := range v1alpha1.CSIDriverProvider_ServiceDesc.Methods {
		m.panics.WithLabelValues("/" + v1alpha1.CSIDriverProvider_ServiceDesc.ServiceName + "/" + md.MethodName)
	}
	for _, exchange := range auth.Exchanges() {
		m.refresh.WithLabelValues(exchange, "ok")
	}
}

// ObserveAWSCall implements provider.CallRecorder.
func (m *Metrics) ObserveAWSCall(service, operation, region string, err error, took time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = failure.KindOf(err).String()
	}
	m.awsCalls.WithLabelValues(service, operation, region, outcome).Inc()
	m.awsTime.WithLabelValues(service, operation).Observe(took.Seconds())
}

// MountStarted implements MountObserver.
func (m *Metrics) MountStarted() { m.inFlight.Inc() }

// ObserveMount implements MountObserver.
func (m *Metrics) ObserveMount(outcome string, took time.Duration) {
	m.inFlight.Dec()
	m.mounts.WithLabelValues(outcome).Inc()
	m.mountDur.WithLabelValues(outcome).Observe(took.Seconds())
}

// ObserveStaleValue implements provider.FetchObserver.
func (m *Metrics) ObserveStaleValue(service string) { m.stale.WithLabelValues(service).Inc() }

// ObserveValueLookup implements provider.FetchObserver.
func (m *Metrics) ObserveValueLookup(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.lookups.WithLabelValues(result).Inc()
}

// ObserveCredentialRefresh implements auth.ExchangeObserver.
func (m *Metrics) ObserveCredentialRefresh(exchange, outcome string) {
	m.refresh.WithLabelValues(exchange, outcome).Inc()
}

// ObserveReady implements ReadyObserver.
func (m *Metrics) ObserveReady(ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.Set(v)
}

// ObserveOptionalMissing implements provider.FetchObserver.
func (m *Metrics) ObserveOptionalMissing(service string) { m.missing.WithLabelValues(service).Inc() }

// ObservePanic implements PanicObserver.
func (m *Metrics) ObservePanic(method string) { m.panics.WithLabelValues(method).Inc() }

// WatchCache exposes the value cache's size as gauges.
func (m *Metrics) WatchCache(stats func() (entries, bytes int)) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "csi_provider_aws_value_cache_entries", Help: "Values held in the value cache."},
			func() float64 { n, _ := stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "csi_provider_aws_value_cache_bytes", Help: "Bytes of values held in the value cache."},
			func() float64 { _, b := stats(); return float64(b) }),
	)
}
