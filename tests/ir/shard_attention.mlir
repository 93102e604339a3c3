// RUN: rducc opt %s -p 'rdu-shard{tp=2}' | filecheck %s
// GQA attention: 4 query heads and 2 KV heads over 2 sockets. Q/K/V are column-parallel, each
// socket keeps 2 query heads and 1 KV head through reshape, permute, the GQA expand and the
// batched matmuls; the output projection is row-parallel and all-reduced. A router-like linear
// whose columns feed a softmax over them stays whole (replicated), and so does its weight.

func.func @forward(%x: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x4xf32>) {
  %wq = rgraph.weight "q_proj.weight" : tensor<16x16xf32>
  %wk = rgraph.weight "k_proj.weight" : tensor<8x16xf32>
  %wv = rgraph.weight "v_proj.weight" : tensor<8x16xf32>
  %wo = rgraph.weight "o_proj.weight" : tensor<16x16xf32>
  %wr = rgraph.weight "router.weight" : tensor<4x16xf32>
  %q = rgraph.linear %x, %wq : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %k = rgraph.linear %x, %wk : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x8xf32>
  %v = rgraph.linear %x, %wv : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x8xf32>
  %q1 = rgraph.reshape %q : tensor<8x16xf32> -> tensor<8x4x4xf32>
  %q2 = rgraph.permute %q1 {dims = array<i64: 1, 0, 2>} : tensor<8x4x4xf32> -> tensor<4x8x4xf32>
  %k1 = rgraph.reshape %k : tensor<8x8xf32> -> tensor<8x2x1x4xf32>
  %k2 = rgraph.expand %k1 : tensor<8x2x1x4xf32> -> tensor<8x2x2x4xf32>
  %k3 = rgraph.reshape %k2 : tensor<8x2x2x4xf32> -> tensor<8x4x4xf32>
  %k4 = rgraph.permute %k3 {dims = array<i64: 1, 2, 0>} : tensor<8x4x4xf32> -> tensor<4x4x8xf32>
  %v1 = rgraph.reshape %v : tensor<8x8xf32> -> tensor<8x2x1x4xf32>
  %v2 = rgraph.expand %v1 : tensor<8x2x1x4xf32> -> tensor<8x2x2x4xf32>
  %v3 = rgraph.reshape %v2 : tensor<8x2x2x4xf32> -> tensor<8x4x4xf32>
  %v4 = rgraph.permute %v3 {dims = array<i64: 1, 0, 2>} : tensor<8x4x4xf32> -> tensor<4x8x4xf32>
  %s = rgraph.matmul %q2, %k4 : (tensor<4x8x4xf32>, tensor<4x4x8xf32>) -> tensor<4x8x8xf32>
  %p = rgraph.softmax %s {dim = -1 : i64} : tensor<4x8x8xf32> -> tensor<4x8x8xf32>
  %a = rgraph.matmul %p, %v4 : (tensor<4x8x8xf32>, tensor<4x8x4xf32>) -> tensor<4x8x4xf32>
  %a1 = rgraph.permute %a {dims = array<i64: 1, 0, 2>} : tensor<4x8x4xf32> -> tensor<8x4x4xf32>
  %a2 = rgraph.reshape %a1 : tensor<8x4x4xf32> -> tensor<8x16xf32>
  %o = rgraph.linear %a2, %wo : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %r = rgraph.linear %x, %wr : (tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<8x4xf32>
  %rs = rgraph.softmax %r {dim = 1 : i64} : tensor<8x4xf32> -> tensor<8x4xf32>
  func.return %o, %rs : tensor<8x16xf32>, tensor<8x4xf32>
}

// CHECK:      rdu.shard.split = ["k_proj.weight", "o_proj.weight", "q_proj.weight", "v_proj.weight"], rdu.shard.replicated = ["router.weight"]
// CHECK-DAG:  rgraph.weight "q_proj.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<8x16xf32>
// CHECK-DAG:  rgraph.weight "k_proj.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<4x16xf32>
// CHECK-DAG:  rgraph.weight "o_proj.weight" {shard = #rdu.shard<dim 1, parts 2>} : tensor<16x8xf32>
// CHECK-DAG:  rgraph.weight "router.weight" : tensor<4x16xf32>
// CHECK:      rgraph.reshape %{{.*}} : tensor<8x8xf32> -> tensor<8x2x4xf32>
// CHECK:      rgraph.expand %{{.*}} : tensor<8x1x1x4xf32> -> tensor<8x1x2x4xf32>
// CHECK-NEXT: rgraph.reshape %{{.*}} : tensor<8x1x2x4xf32> -> tensor<8x2x4xf32>
// CHECK:      rgraph.matmul %{{.*}}, %{{.*}} : (tensor<2x8x4xf32>, tensor<2x4x8xf32>) -> tensor<2x8x8xf32>
// CHECK:      rgraph.softmax %{{.*}} {dim = -1 : i64} : tensor<2x8x8xf32> -> tensor<2x8x8xf32>
// CHECK:      %[[O:.*]] = rgraph.linear %{{.*}}, %{{.*}} : (tensor<8x8xf32>, tensor<16x8xf32>) -> tensor<8x16xf32>
// CHECK-NEXT: %[[OR:.*]] = rgraph.all_reduce %[[O]] {sockets = 2 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
// CHECK:      %[[R:.*]] = rgraph.linear %x, %{{.*}} : (tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<8x4xf32>
// CHECK-NEXT: rgraph.softmax %[[R]] {dim = 1 : i64} : tensor<8x4xf32> -> tensor<8x4xf32>
// CHECK-NOT:  rgraph.all_gather
