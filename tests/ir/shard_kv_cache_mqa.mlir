// RUN: rducc opt %s -p 'rdu-shard{tp=2}' | filecheck %s
// Multi-query attention (one KV head, 2 query heads) over a static KV cache at TP 2: the one KV
// head cannot be split, so every socket computes it and holds the whole cache in its own HBM
// (the module lists the cache and the K projection as replicated; neither has a shard), appends
// the same row to it, and takes its share of the head's repeat: a repeat of a whole value is cut
// as a smaller repeat, so the query heads stay split and nothing is gathered before the output.

func.func @forward(%x: tensor<1x1x16xf32>, %pos: tensor<1xi64>) -> tensor<1x1x16xf32> {
  %wq = rgraph.weight "q_proj.weight" : tensor<16x16xf32>
  %wk = rgraph.weight "k_proj.weight" : tensor<8x16xf32>
  %wo = rgraph.weight "o_proj.weight" : tensor<16x16xf32>
  %cache = rgraph.weight "key_cache_0" {mutable} : tensor<1x1x4x8xf32>
  %q = rgraph.linear %x, %wq : (tensor<1x1x16xf32>, tensor<16x16xf32>) -> tensor<1x1x16xf32>
  %q1 = rgraph.reshape %q : tensor<1x1x16xf32> -> tensor<1x1x2x8xf32>
  %q2 = rgraph.permute %q1 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x1x2x8xf32> -> tensor<1x2x1x8xf32>
  %k = rgraph.linear %x, %wk : (tensor<1x1x16xf32>, tensor<8x16xf32>) -> tensor<1x1x8xf32>
  %k1 = rgraph.reshape %k : tensor<1x1x8xf32> -> tensor<1x1x1x8xf32>
  %k2 = rgraph.permute %k1 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x1x1x8xf32> -> tensor<1x1x1x8xf32>
  %m = rgraph.index_put %cache[%pos], %k2 {indexed_dims = array<i64: 2>, accumulate = false} : (tensor<1x1x4x8xf32>, tensor<1x1x1x8xf32>, tensor<1xi64>) -> tensor<1x1x4x8xf32>
  rgraph.update_rows %cache[%pos], %k2 {dim = 2 : i64} : (tensor<1x1x4x8xf32>, tensor<1xi64>, tensor<1x1x1x8xf32>)
  %r = rgraph.reshape %m : tensor<1x1x4x8xf32> -> tensor<1x1x1x4x8xf32>
  %e = rgraph.expand %r : tensor<1x1x1x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %kh = rgraph.reshape %e : tensor<1x1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  %kt = rgraph.permute %kh {dims = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = rgraph.matmul %q2, %kt : (tensor<1x2x1x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x1x4xf32>
  %p = rgraph.softmax %s {dim = -1 : i64} : tensor<1x2x1x4xf32> -> tensor<1x2x1x4xf32>
  %a = rgraph.matmul %p, %kh : (tensor<1x2x1x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x1x8xf32>
  %a1 = rgraph.permute %a {dims = array<i64: 0, 2, 1, 3>} : tensor<1x2x1x8xf32> -> tensor<1x1x2x8xf32>
  %a2 = rgraph.reshape %a1 : tensor<1x1x2x8xf32> -> tensor<1x1x16xf32>
  %o = rgraph.linear %a2, %wo : (tensor<1x1x16xf32>, tensor<16x16xf32>) -> tensor<1x1x16xf32>
  func.return %o : tensor<1x1x16xf32>
}

// CHECK:      rdu.shard.split = ["o_proj.weight", "q_proj.weight"]
// CHECK-SAME: rdu.shard.replicated = ["k_proj.weight", "key_cache_0"]
// CHECK-DAG:  rgraph.weight "k_proj.weight" : tensor<8x16xf32>
// CHECK-DAG:  %[[C:[0-9]+]] = rgraph.weight "key_cache_0" {mutable} : tensor<1x1x4x8xf32>
// CHECK:      rgraph.update_rows %[[C]][%pos], %{{.*}} {dim = 2 : i64} : (tensor<1x1x4x8xf32>, tensor<1xi64>, tensor<1x1x1x8xf32>)
// CHECK-NOT:  rgraph.all_gather
// CHECK:      rgraph.expand %{{.*}} : tensor<1x1x1x4x8xf32> -> tensor<1x1x1x4x8xf32>
// CHECK-NOT:  rgraph.expand
// CHECK:      rgraph.matmul %{{.*}}, %{{.*}} : (tensor<1x1x1x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x1x1x4xf32>
// CHECK-NOT:  rgraph.all_gather
// CHECK:      rgraph.all_reduce
// CHECK-NOT:  rgraph.all_gather
