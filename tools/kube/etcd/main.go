// Command etcd is the etcd server from go.etcd.io/etcd/server/v3, built in
// this module so the tests run the same etcd 3.6 line that kube-apiserver
// is released against, without a container image.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
