// RUN: rducc opt %s -p 'rdu-shard{tp=2}' | filecheck %s
// A decode step's tail. The LM head widens (16 -> 32 columns) before an argmax over them: it is
// split vocab-parallel and its logits all-gathered before the argmax (a router, which narrows,
// stays whole: shard_attention.mlir). A row-parallel projection whose weight is read through a
// cast (a BF16 weight in an FP32 matmul, the mixed-precision residual) is split through the cast,
// so its all-reduce carries the FP32 partial sums.

func.func @forward(%x: tensor<1x16xf32>, %h: tensor<1x16xf32>) -> (tensor<1xi64>, tensor<1x16xf32>) {
  %wlm = rgraph.weight "lm_head.weight" : tensor<32x16xf32>
  %wup = rgraph.weight "up.weight" : tensor<16x16xbf16>
  %wdown = rgraph.weight "down.weight" : tensor<16x16xbf16>
  %l = rgraph.linear %x, %wlm : (tensor<1x16xf32>, tensor<32x16xf32>) -> tensor<1x32xf32>
  %t = rgraph.argmax %l {dim = -1 : i64, keepdim = false} : tensor<1x32xf32> -> tensor<1xi64>
  %hb = rgraph.cast %h : tensor<1x16xf32> -> tensor<1x16xbf16>
  %u = rgraph.linear %hb, %wup : (tensor<1x16xbf16>, tensor<16x16xbf16>) -> tensor<1x16xbf16>
  %uf = rgraph.cast %u : tensor<1x16xbf16> -> tensor<1x16xf32>
  %wf = rgraph.cast %wdown : tensor<16x16xbf16> -> tensor<16x16xf32>
  %d = rgraph.linear %uf, %wf : (tensor<1x16xf32>, tensor<16x16xf32>) -> tensor<1x16xf32>
  func.return %t, %d : tensor<1xi64>, tensor<1x16xf32>
}

// CHECK: rdu.shard.split = ["down.weight", "lm_head.weight", "up.weight"]
// CHECK: %[[LM:.*]] = rgraph.weight "lm_head.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<16x16xf32>
// CHECK: %[[DOWN:.*]] = rgraph.weight "down.weight" {shard = #rdu.shard<dim 1, parts 2>} : tensor<16x8xbf16>
// CHECK: %[[L:.*]] = rgraph.linear %x, %[[LM]] : (tensor<1x16xf32>, tensor<16x16xf32>) -> tensor<1x16xf32>
// CHECK-NEXT: %[[ALL:.*]] = rgraph.all_gather %[[L]] {sockets = 2 : i64, dim = 1 : i64} : tensor<1x16xf32> -> tensor<1x32xf32>
// CHECK-NEXT: rgraph.argmax %[[ALL]] {dim = -1 : i64, keepdim = false} : tensor<1x32xf32> -> tensor<1xi64>
// CHECK: %[[WF:.*]] = rgraph.cast %[[DOWN]] : tensor<16x8xbf16> -> tensor<16x8xf32>
// CHECK: %[[D:.*]] = rgraph.linear %{{.*}}, %[[WF]] : (tensor<1x8xf32>, tensor<16x8xf32>) -> tensor<1x16xf32>
// CHECK-NEXT: rgraph.all_reduce %[[D]] {sockets = 2 : i64} : tensor<1x16xf32> -> tensor<1x16xf32>
