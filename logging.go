package main

import (
	"flag"
	"fmt"

	"google.golang.org/grpc/grpclog"
	logsapi "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register" // the json format
	"k8s.io/klog/v2"
)

// Log formats of --logging-format.
const (
	logText = "text"
	logJSON = "json"
)

// applyLogging sets up the log format chosen with --logging-format before
// anything logs. text is klog's own output, unchanged, with every klog
// flag. json is k8s.io/component-base/logs' JSON format: one object per
// line, the structured keys of each line as fields, at klog's -v; it
// refuses klog flags it would not honour (--log_dir...). Then gRPC's and
// the standard library's loggers write through klog too, so that no line
// of another format slips in.
func applyLogging(format string, fs *flag.FlagSet) error {
	switch format {
	case logText:
		return nil
	case logJSON:
	default:
		return fmt.Errorf("--logging-format must be %q or %q, got %q", logText, logJSON, format)
	}
	c := logsapi.NewLoggingConfiguration()
	c.Format = logJSON
	if v := fs.Lookup("v"); v != nil {
		if err := logsapi.VerbosityLevelPflag(&c.Verbosity).Set(v.Value.String()); err != nil {
			return fmt.Errorf("-v: %w", err)
		}
	}
	if err := logsapi.ValidateAndApply(c, nil); err != nil {
		return fmt.Errorf("--logging-format=json: %w", err)
	}
	grpclog.SetLoggerV2(grpcLogger{})
	klog.CopyStandardLogTo("INFO")
	return nil
}

// grpcLogger is gRPC's logger over klog. Like gRPC's default it shows
// errors; warnings from -v=2 and information from -v=5.
type grpcLogger struct{}

var _ grpclog.DepthLoggerV2 = grpcLogger{}

func (grpcLogger) Info(a ...any)                { klog.V(5).InfoDepth(1, a...) }
func (grpcLogger) Infoln(a ...any)              { klog.V(5).InfoDepth(1, fmt.Sprintln(a...)) }
func (grpcLogger) Infof(f string, a ...any)     { klog.V(5).InfoDepth(1, fmt.Sprintf(f, a...)) }
func (grpcLogger) InfoDepth(d int, a ...any)    { klog.V(5).InfoDepth(d+1, a...) }
func (grpcLogger) Warning(a ...any)             { klog.V(2).InfoDepth(1, a...) }
func (grpcLogger) Warningln(a ...any)           { klog.V(2).InfoDepth(1, fmt.Sprintln(a...)) }
func (grpcLogger) Warningf(f string, a ...any)  { klog.V(2).InfoDepth(1, fmt.Sprintf(f, a...)) }
func (grpcLogger) WarningDepth(d int, a ...any) { klog.V(2).InfoDepth(d+1, a...) }
func (grpcLogger) Error(a ...any)               { klog.ErrorDepth(1, a...) }
func (grpcLogger) Errorln(a ...any)             { klog.ErrorDepth(1, fmt.Sprintln(a...)) }
func (grpcLogger) Errorf(f string, a ...any)    { klog.ErrorDepth(1, fmt.Sprintf(f, a...)) }
func (grpcLogger) ErrorDepth(d int, a ...any)   { klog.ErrorDepth(d+1, a...) }
func (grpcLogger) Fatal(a ...any)               { klog.FatalDepth(1, a...) }
func (grpcLogger) Fatalln(a ...any)             { klog.FatalDepth(1, fmt.Sprintln(a...)) }
func (grpcLogger) Fatalf(f string, a ...any)    { klog.FatalDepth(1, fmt.Sprintf(f, a...)) }
func (grpcLogger) FatalDepth(d int, a ...any)   { klog.FatalDepth(d+1, a...) }
func (grpcLogger) V(int) bool                   { return klog.V(5).Enabled() }
