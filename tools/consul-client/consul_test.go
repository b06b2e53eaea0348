// Package consulclient runs HashiCorp's own Consul client
// (github.com/hashicorp/consul/api) against kv-proxy's Consul surface.
//
// It is built by scripts/consul-client/build.sh and run by
// test/kv-proxy.consul.kube.test.ts against the KvProxy of dist/dev on a real
// kube-apiserver. The environment says where:
//
//	CONSUL_HTTP_ADDR   the proxy, e.g. 127.0.0.1:5001
//	KV_WRITE_TOKEN     a token from write-tokens
//	KV_READ_TOKEN      a token from read-tokens
//	KV_NAMESPACE       the namespace the proxy serves
//	KUBECTL, KUBECONFIG  to change Services and EndpointSlices in the cluster
package consulclient

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set", name)
	}
	return v
}

func client(t *testing.T, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: env(t, "CONSUL_HTTP_ADDR"), Token: token})
	if err != nil {
		t.Fatalf("api.NewClient: %v", err)
	}
	return c
}

func writer(t *testing.T) *api.Client { return client(t, env(t, "KV_WRITE_TOKEN")) }
func reader(t *testing.T) *api.Client { return client(t, env(t, "KV_READ_TOKEN")) }

// key is <namespace>/<configmap>/<key>.
func key(t *testing.T, cm, k string) string { return env(t, "KV_NAMESPACE") + "/" + cm + "/" + k }

func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := tryKubectl(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryKubectl is kubectl for goroutines other than the test's own (which must not call t.Fatal).
func tryKubectl(t *testing.T, stdin string, args ...string) (string, error) {
	cmd := exec.Command(env(t, "KUBECTL"), append([]string{"--kubeconfig", env(t, "KUBECONFIG"), "-n", env(t, "KV_NAMESPACE")}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubectl %v: %v\n%s", args, err, errOut.String())
	}
	return out.String(), nil
}

func TestPutGetListKeysDelete(t *testing.T) {
	kv := writer(t).KV()
	// put three keys into two ConfigMaps
	for _, p := range []*api.KVPair{
		{Key: key(t, "consul-app", "db.url"), Value: []byte("postgres://db:5432/app")},
		{Key: key(t, "consul-app", "log.level"), Value: []byte("debug")},
		{Key: key(t, "consul-other", "color"), Value: []byte("blue")},
	} {
		if _, err := kv.Put(p, nil); err != nil {
			t.Fatalf("put %s: %v", p.Key, err)
		}
	}
	// get with a read token
	pair, meta, err := reader(t).KV().Get(key(t, "consul-app", "db.url"), nil)
	if err != nil || pair == nil {
		t.Fatalf("get: %v %v", pair, err)
	}
	if string(pair.Value) != "postgres://db:5432/app" || pair.Key != key(t, "consul-app", "db.url") || pair.ModifyIndex == 0 || meta.LastIndex == 0 {
		t.Fatalf("get answered %+v, LastIndex %d", pair, meta.LastIndex)
	}
	// a missing key is nil, not an error
	if missing, _, err := kv.Get(key(t, "consul-app", "nope"), nil); err != nil || missing != nil {
		t.Fatalf("missing key: %v %v", missing, err)
	}
	// list one ConfigMap
	pairs, _, err := kv.List(env(t, "KV_NAMESPACE")+"/consul-app/", nil)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	got := []string{}
	for _, p := range pairs {
		got = append(got, p.Key+"="+string(p.Value))
	}
	want := []string{key(t, "consul-app", "db.url") + "=postgres://db:5432/app", key(t, "consul-app", "log.level") + "=debug"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list: got %v, want %v", got, want)
	}
	// keys with a separator: one level below the namespace
	keys, _, err := kv.Keys(env(t, "KV_NAMESPACE")+"/consul-", "/", nil)
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	sort.Strings(keys)
	ns := env(t, "KV_NAMESPACE")
	if fmt.Sprint(keys) != fmt.Sprint([]string{ns + "/consul-app/", ns + "/consul-other/"}) {
		t.Fatalf("keys with separator: %v", keys)
	}
	// a read token cannot write
	if _, err := reader(t).KV().Put(&api.KVPair{Key: key(t, "consul-app", "x"), Value: []byte("1")}, nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("put with a read token: %v", err)
	}
	// delete
	if _, err := kv.Delete(key(t, "consul-app", "log.level"), nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if gone, _, err := kv.Get(key(t, "consul-app", "log.level"), nil); err != nil || gone != nil {
		t.Fatalf("after delete: %v %v", gone, err)
	}
	// the API server holds what the client wrote
	live := kubectl(t, "", "get", "configmap", "consul-app", "-o", "jsonpath={.data}")
	if !strings.Contains(live, `"db.url":"postgres://db:5432/app"`) || strings.Contains(live, "log.level") {
		t.Fatalf("configmap consul-app data: %s", live)
	}
	// delete the tree of one ConfigMap
	if _, err := kv.DeleteTree(ns+"/consul-other/", nil); err != nil {
		t.Fatalf("delete tree: %v", err)
	}
	if rest, _, err := kv.List(ns+"/consul-other/", nil); err != nil || len(rest) != 0 {
		t.Fatalf("after delete tree: %v %v", rest, err)
	}
}

func TestCASConflict(t *testing.T) {
	kv := writer(t).KV()
	k := key(t, "consul-cas", "leader")
	// cas=0 creates only when absent
	if ok, _, err := kv.CAS(&api.KVPair{Key: k, Value: []byte("a"), ModifyIndex: 0}, nil); err != nil || !ok {
		t.Fatalf("cas=0 on a new key: %v %v", ok, err)
	}
	if ok, _, err := kv.CAS(&api.KVPair{Key: k, Value: []byte("b"), ModifyIndex: 0}, nil); err != nil || ok {
		t.Fatalf("cas=0 on an existing key: %v %v", ok, err)
	}
	first, _, err := kv.Get(k, nil)
	if err != nil || first == nil {
		t.Fatalf("get: %v", err)
	}
	// two writers read the same ModifyIndex; the first CAS wins, the second conflicts
	if ok, _, err := kv.CAS(&api.KVPair{Key: k, Value: []byte("winner"), ModifyIndex: first.ModifyIndex}, nil); err != nil || !ok {
		t.Fatalf("first cas: %v %v", ok, err)
	}
	if ok, _, err := kv.CAS(&api.KVPair{Key: k, Value: []byte("loser"), ModifyIndex: first.ModifyIndex}, nil); err != nil || ok {
		t.Fatalf("second cas with a stale index must answer false: %v %v", ok, err)
	}
	now, _, _ := kv.Get(k, nil)
	if now == nil || string(now.Value) != "winner" || now.ModifyIndex <= first.ModifyIndex {
		t.Fatalf("after the conflict: %+v", now)
	}
	// delete-cas with the stale index fails, with the current one succeeds
	if ok, _, err := kv.DeleteCAS(&api.KVPair{Key: k, ModifyIndex: first.ModifyIndex}, nil); err != nil || ok {
		t.Fatalf("delete-cas stale: %v %v", ok, err)
	}
	if ok, _, err := kv.DeleteCAS(&api.KVPair{Key: k, ModifyIndex: now.ModifyIndex}, nil); err != nil || !ok {
		t.Fatalf("delete-cas current: %v %v", ok, err)
	}
}

func TestBlockingQueryReturnsAfterAChange(t *testing.T) {
	kv := writer(t).KV()
	k := key(t, "consul-watch", "feature")
	if _, err := kv.Put(&api.KVPair{Key: k, Value: []byte("off")}, nil); err != nil {
		t.Fatalf("put: %v", err)
	}
	_, meta, err := kv.Get(k, nil)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	changed := make(chan time.Time, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		if _, err := writer(t).KV().Put(&api.KVPair{Key: k, Value: []byte("on")}, nil); err != nil {
			t.Errorf("put during the wait: %v", err)
		}
		changed <- time.Now()
	}()
	const wait = 40 * time.Second
	start := time.Now()
	pair, meta2, err := reader(t).KV().Get(k, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: wait})
	returned := time.Now()
	if err != nil || pair == nil {
		t.Fatalf("blocking get: %v", err)
	}
	// it woke on the change, not on the timeout
	if string(pair.Value) != "on" || meta2.LastIndex <= meta.LastIndex {
		t.Fatalf("blocking get answered %q at index %d (was %d)", pair.Value, meta2.LastIndex, meta.LastIndex)
	}
	at := <-changed
	t.Logf("blocked %v; answered %v after the write was acknowledged (wait was %v)", returned.Sub(start).Round(time.Millisecond), returned.Sub(at).Round(time.Millisecond), wait)
	if returned.Sub(start) >= wait {
		t.Fatalf("the blocking query ran to its wait time instead of returning on the change")
	}
}

func TestTxn(t *testing.T) {
	kv := writer(t).KV()
	ns := env(t, "KV_NAMESPACE")
	if _, err := kv.Put(&api.KVPair{Key: key(t, "consul-txn", "version"), Value: []byte("1")}, nil); err != nil {
		t.Fatalf("put: %v", err)
	}
	v1, _, _ := kv.Get(key(t, "consul-txn", "version"), nil)
	txn := writer(t).Txn()
	// check-index + cas + set + get + delete, atomically in one ConfigMap
	ok, resp, _, err := txn.Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: key(t, "consul-txn", "version"), Index: v1.ModifyIndex}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: key(t, "consul-txn", "version"), Value: []byte("2"), Index: v1.ModifyIndex}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: key(t, "consul-txn", "a"), Value: []byte("alpha")}},
		{KV: &api.KVTxnOp{Verb: api.KVGet, Key: key(t, "consul-txn", "version")}},
		{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: key(t, "consul-txn", "never-there")}},
	}, nil)
	if err != nil || !ok {
		t.Fatalf("txn: ok=%v err=%v resp=%+v", ok, err, resp)
	}
	var got string
	for _, r := range resp.Results {
		if r.KV != nil && r.KV.Key == key(t, "consul-txn", "version") && r.KV.Value != nil {
			got = string(r.KV.Value)
		}
	}
	if got != "2" {
		t.Fatalf("txn get inside the txn saw %q, want the txn's own write 2", got)
	}
	// a stale cas fails the whole txn: its set is not applied either
	ok, resp, _, err = txn.Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: key(t, "consul-txn", "b"), Value: []byte("beta")}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: key(t, "consul-txn", "version"), Value: []byte("3"), Index: v1.ModifyIndex}},
	}, nil)
	if err != nil || ok || len(resp.Errors) != 1 || resp.Errors[0].OpIndex != 1 {
		t.Fatalf("stale txn: ok=%v err=%v resp=%+v", ok, err, resp)
	}
	if b, _, _ := kv.Get(key(t, "consul-txn", "b"), nil); b != nil {
		t.Fatalf("a failed txn applied its set: %+v", b)
	}
	if v, _, _ := kv.Get(key(t, "consul-txn", "version"), nil); v == nil || string(v.Value) != "2" {
		t.Fatalf("version after the failed txn: %+v", v)
	}
	// a txn across ConfigMaps is refused with a clear error
	_, _, _, err = txn.Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: ns + "/consul-txn/c", Value: []byte("x")}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: ns + "/consul-txn-2/c", Value: []byte("y")}},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "spans ConfigMaps") {
		t.Fatalf("cross-configmap txn: %v", err)
	}
}

const serviceYAML = `apiVersion: v1
kind: Service
metadata:
  name: consul-web
spec:
  ports:
  - name: http
    port: 80
    targetPort: 8080
`

func sliceYAML(ready bool) string {
	return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: consul-web-1
  labels:
    kubernetes.io/service-name: consul-web
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
endpoints:
- addresses: ["10.1.2.3"]
  conditions:
    ready: %t
`, ready)
}

func TestCatalogAndHealthForAServiceWhoseEndpointBecomesReady(t *testing.T) {
	c := reader(t)
	name := "consul-web." + env(t, "KV_NAMESPACE")
	kubectl(t, serviceYAML, "apply", "-f", "-")
	kubectl(t, sliceYAML(false), "apply", "-f", "-")
	// the catalog lists the Service once the proxy's watch has it
	deadline := time.Now().Add(30 * time.Second)
	for {
		services, _, err := c.Catalog().Services(nil)
		if err != nil {
			t.Fatalf("catalog services: %v", err)
		}
		if tags, found := services[name]; found {
			if fmt.Sprint(tags) != "[http]" {
				t.Fatalf("tags of %s: %v", name, tags)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalog never listed %s: %v", name, services)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// its endpoint is registered but not passing
	var instances []*api.CatalogService
	for {
		var err error
		instances, _, err = c.Catalog().Service(name, "", nil)
		if err != nil {
			t.Fatalf("catalog service: %v", err)
		}
		if len(instances) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(instances) != 1 || instances[0].ServiceAddress != "10.1.2.3" || instances[0].ServicePort != 8080 {
		t.Fatalf("catalog service %s: %+v", name, instances)
	}
	passing, meta, err := c.Health().Service(name, "", true, nil)
	if err != nil || len(passing) != 0 {
		t.Fatalf("health ?passing before ready: %v %v", passing, err)
	}
	all, _, err := c.Health().Service(name, "", false, nil)
	if err != nil || len(all) != 1 || all[0].Checks.AggregatedStatus() != api.HealthCritical {
		t.Fatalf("health before ready: %+v %v", all, err)
	}
	// the endpoint becomes ready while a blocking health query waits
	go func() {
		time.Sleep(1500 * time.Millisecond)
		if _, err := tryKubectl(t, sliceYAML(true), "apply", "-f", "-"); err != nil {
			t.Error(err)
		}
	}()
	index := meta.LastIndex
	const wait = 40 * time.Second
	waitUntil := time.Now().Add(wait)
	var call time.Time
	for {
		call = time.Now()
		passing, meta, err = c.Health().Service(name, "", true, &api.QueryOptions{WaitIndex: index, WaitTime: wait})
		if err != nil {
			t.Fatalf("blocking health: %v", err)
		}
		if len(passing) == 1 || time.Now().After(waitUntil) {
			break
		}
		index = meta.LastIndex
	}
	// the blocking query that saw the endpoint ready woke on the change, not at the end of its wait
	t.Logf("the blocking ?passing query answered after %v (wait %v)", time.Since(call).Round(time.Millisecond), wait)
	if time.Since(call) >= wait {
		t.Fatalf("the blocking health query ran to its wait time instead of returning on the change")
	}
	if len(passing) != 1 || passing[0].Service.Address != "10.1.2.3" || passing[0].Service.Port != 8080 || passing[0].Checks.AggregatedStatus() != api.HealthPassing {
		t.Fatalf("health ?passing after ready: %+v", passing)
	}
}

func TestSessionsAreNotSupported(t *testing.T) {
	_, _, err := writer(t).Session().Create(&api.SessionEntry{Name: "lock"}, nil)
	if err == nil || !strings.Contains(err.Error(), "501") || !strings.Contains(err.Error(), "cas") {
		t.Fatalf("session create: %v", err)
	}
}
