"""The REST API of seed 000: lists the cluster's namespaces through the
Kubernetes API, on the standard library only (urllib, ssl, http.server).

GET /namespaces (or /) -> 200 {"namespaces": ["default", ...], "count": n}
GET /healthz           -> 200 "ok" (does not call the Kubernetes API)

It finds the API the way in-cluster clients do: KUBERNETES_SERVICE_HOST and
KUBERNETES_SERVICE_PORT (set by the kubelet), the ServiceAccount token and CA
at /var/run/secrets/kubernetes.io/serviceaccount. The token is read for every
request because the kubelet rotates it. Listing namespaces needs a ClusterRole
with `list` on `namespaces`.

Errors: 503 when the API cannot be reached or no token is mounted, 502 when
the API refuses or answers something unexpected. Details go to the log; the
token never does.
"""
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

from serving import Handler, serve

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PAGE_SIZE = 500
TIMEOUT_SECONDS = 5


class UpstreamError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def api_base():
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise UpstreamError(503, "not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}"


def read_token():
    try:
        with open(os.path.join(SERVICE_ACCOUNT_DIR, "token"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        raise UpstreamError(503, "no service-account token mounted: the runner needs rules or clusterRules") from None


def list_namespaces():
    base = api_base()
    token = read_token()
    context = ssl.create_default_context(cafile=os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt"))
    names, cont = [], ""
    while True:
        query = {"limit": str(PAGE_SIZE)}
        if cont:
            query["continue"] = cont
        url = f"{base}/api/v1/namespaces?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=TIMEOUT_SECONDS) as response:
                body = json.load(response)
        except urllib.error.HTTPError as err:
            raise UpstreamError(502, f"the Kubernetes API answered {err.code} to GET /api/v1/namespaces") from None
        except (urllib.error.URLError, OSError) as err:
            raise UpstreamError(503, f"the Kubernetes API is unreachable: {getattr(err, 'reason', err)}") from None
        except ValueError:
            raise UpstreamError(502, "the Kubernetes API answered with invalid JSON") from None
        names.extend(item["metadata"]["name"] for item in body.get("items", []))
        cont = body.get("metadata", {}).get("continue", "")
        if not cont:
            return sorted(names)


class NamespacesApi(Handler):
    def send_json(self, status, value):
        self.send_body(status, json.dumps(value) + "\n", "application/json")

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self.send_body(200, "ok\n")
        elif path in ("/", "/namespaces"):
            try:
                names = list_namespaces()
            except UpstreamError as err:
                print(f"namespaces-api: {err}", file=sys.stderr, flush=True)
                self.send_json(err.status, {"error": str(err)})
                return
            self.send_json(200, {"namespaces": names, "count": len(names)})
        else:
            self.send_json(404, {"error": f"no route for {path}"})


if __name__ == "__main__":
    sys.exit(serve(NamespacesApi, "namespaces-api"))
