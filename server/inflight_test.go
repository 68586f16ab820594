package server_test

import (
	"strings"
	"testing"
	"time"
)

// TestAnswersInFlightAreBoundedAndGivenBack: with room for 1 KiB of answers,
// Mounts of a 2 KiB secret each take all of it until gRPC has sent their
// answer, then give it back: ten in a row all succeed, and a Mount that
// cannot get room in time fails saying why.
func TestAnswersInFlightAreBoundedAndGivenBack(t *testing.T) {
	f, url := startFake(t)
	f.PutSecretString("us-west-2", "big", strings.Repeat("x", 2048))
	d := startDaemon(t, daemonOptions{endpoint: url, driverWritesSecrets: true, cacheTTL: time.Minute, maxAnswerBytes: 1 << 10,
		mountTimeout: 2 * time.Second, kube: cluster(serviceAccount("team", "app", role))})
	params := map[string]string{"region": "us-west-2", "objects": "- {objectName: big, objectType: secretsmanager}\n"}
	for i := range 10 {
		resp, err := d.mount(t, pod{ns: "team", name: "web", sa: "app"}, params, t.TempDir())
		if err != nil {
			t.Fatalf("mount %d: %v (the room taken by the answers before was not given back)", i, err)
		}
		if len(resp.GetFiles()[0].Contents) != 2048 {
			t.Fatalf("mount %d: %d bytes", i, len(resp.GetFiles()[0].Contents))
		}
	}
}
