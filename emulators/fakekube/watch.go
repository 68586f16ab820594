package fakekube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// watchQuery is what a watch asked for besides its filter.
type watchQuery struct {
	from        int64 // resourceVersion; 0 = "" or "0"
	initial     bool  // start with the current state
	sendInitial bool  // a watch-list: end the initial events with a bookmark
	timeout     time.Duration
}

// parseWatchQuery reads resourceVersion, sendInitialEvents (with the
// parameters the API server requires beside it) and timeoutSeconds.
func parseWatchQuery(r *http.Request) (watchQuery, *apierrors.StatusError) {
	q := r.URL.Query()
	var wq watchQuery
	if v := q.Get("resourceVersion"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return wq, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q: must be a non-negative integer", v))
		}
		wq.from = n
	}
	wq.sendInitial = q.Has("sendInitialEvents")
	wq.initial = isTrue(q.Get("sendInitialEvents"))
	if wq.sendInitial {
		if q.Get("resourceVersionMatch") != string(metav1.ResourceVersionMatchNotOlderThan) {
			return wq, apierrors.NewBadRequest("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
		}
		if !isTrue(q.Get("allowWatchBookmarks")) {
			return wq, apierrors.NewBadRequest("sendInitialEvents requires setting allowWatchBookmarks to true")
		}
	} else if wq.from == 0 {
		// resourceVersion "" or "0": start with the current state.
		wq.initial = true
	}
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return wq, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		wq.timeout = time.Duration(n) * time.Second
	}
	return wq, nil
}

// watch streams events, each object whole or as its metadata only: the
// initial ones decided under the lock together with registering the
// watcher, so no change falls between the two.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, res *resource, f filter, metadata bool) {
	wq, status := parseWatchQuery(r)
	if status != nil {
		writeStatus(w, status)
		return
	}
	var buf bytes.Buffer
	wt := &watcher{resource: res.name, filter: f, metadata: metadata, ch: make(chan event, watchBuffer)}
	s.mu.Lock()
	if !wq.initial && wq.from < s.compacted {
		compacted := s.compacted
		s.mu.Unlock()
		writeStatus(w, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", wq.from, compacted)))
		return
	}
	s.initialEvents(&buf, res, f, wq, metadata)
	s.watchers[wt] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, wt)
		s.mu.Unlock()
	}()

	var timeout <-chan time.Time
	if wq.timeout > 0 {
		t := time.NewTimer(wq.timeout)
		defer t.Stop()
		timeout = t.C
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	s.stream(w, r, wt, &buf, timeout)
}

// initialEvents writes what a watch starts with: the current state (and
// the bookmark that ends it for a watch-list), or the changes after its
// resourceVersion. Caller holds s.mu.
func (s *Server) initialEvents(buf *bytes.Buffer, res *resource, f filter, wq watchQuery, metadata bool) {
	switch {
	case wq.initial:
		for _, o := range res.current(f) {
			if metadata {
				writeEvent(buf, watch.Added, encodePartial(o))
			} else {
				writeEvent(buf, watch.Added, encode(o))
			}
		}
		if wq.sendInitial {
			writeEvent(buf, watch.Bookmark, bookmark(res, s.rv, metadata))
		}
	case wq.from > 0:
		for _, ev := range s.history {
			if ev.rv > wq.from && ev.resource == res.name && f.matches(ev.namespace, ev.labels, ev.fields) {
				writeEvent(buf, ev.typ, ev.body(metadata))
			}
		}
	}
}

// stream sends buf, then every event the watcher receives, until the
// client goes, the watcher lags too far, timeout fires or the server
// closes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, wt *watcher, buf *bytes.Buffer, timeout <-chan time.Time) {
	rc := http.NewResponseController(w)
	send := func() bool {
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return false
			}
			buf.Reset()
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case ev, ok := <-wt.ch:
			if !ok {
				return // lagged too far; the client re-watches from its last resourceVersion
			}
			writeEvent(buf, ev.typ, ev.body(wt.metadata))
			drain(buf, wt)
			if !send() {
				return
			}
		case <-timeout:
			return
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

// drain adds the events already waiting, so that a burst goes out in one
// write. A watcher closed for lagging stops it; the stream then ends.
func drain(buf *bytes.Buffer, wt *watcher) {
	for {
		select {
		case ev, ok := <-wt.ch:
			if !ok {
				return
			}
			writeEvent(buf, ev.typ, ev.body(wt.metadata))
		default:
			return
		}
	}
}

// bookmark is the event object that ends a watch-list's initial events:
// of the resource's kind, or a PartialObjectMetadata for a metadata watch.
func bookmark(res *resource, rv int64, metadata bool) []byte {
	kind, apiVersion := res.kind, "v1"
	if metadata {
		kind, apiVersion = partialKind, metav1.SchemeGroupVersion.String()
	}
	b, _ := json.Marshal(map[string]any{
		"kind": kind, "apiVersion": apiVersion,
		"metadata": map[string]any{
			"resourceVersion": strconv.FormatInt(rv, 10),
			"annotations":     map[string]string{metav1.InitialEventsAnnotationKey: "true"},
		},
	})
	return b
}

func writeEvent(buf *bytes.Buffer, typ watch.EventType, raw []byte) {
	buf.WriteString(`{"type":`)
	t, _ := json.Marshal(string(typ))
	buf.Write(t)
	buf.WriteString(`,"object":`)
	buf.Write(raw)
	buf.WriteString("}\n")
}
