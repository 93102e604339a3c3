// RUN: rducc opt %s -p 'rdu-shard{tp=2}' | filecheck %s --check-prefix=TP2
// RUN: rducc opt %s -p 'rdu-shard{tp=4}' | filecheck %s --check-prefix=TP4
// A decode step's attention over a static KV cache (2 KV heads of 8, 4 query heads, 4 cache
// rows; the cache a mutable weight, appended in place by rgraph.update_rows). The cache is split
// by KV head like the K projection that fills it: each socket merges and stores its own heads'
// row into its own part of the cache (its own HBM), so no cache row crosses the peer network.
// TP 2: one KV head per socket (`parts 2`). TP 4: more sockets than KV heads, so each KV head,
// and its cache part, is held by the two sockets that read it (`parts 2` with tp 4), which split
// its repeat for their query heads. The module lists the cache among the weights it split.

func.func @forward(%x: tensor<1x1x32xf32>, %pos: tensor<1xi64>) -> tensor<1x1x32xf32> {
  %wq = rgraph.weight "q_proj.weight" : tensor<32x32xf32>
  %wk = rgraph.weight "k_proj.weight" : tensor<16x32xf32>
  %wo = rgraph.weight "o_proj.weight" : tensor<32x32xf32>
  %cache = rgraph.weight "key_cache_0" {mutable} : tensor<1x2x4x8xf32>
  %q = rgraph.linear %x, %wq : (tensor<1x1x32xf32>, tensor<32x32xf32>) -> tensor<1x1x32xf32>
  %q1 = rgraph.reshape %q : tensor<1x1x32xf32> -> tensor<1x1x4x8xf32>
  %q2 = rgraph.permute %q1 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x1x4x8xf32> -> tensor<1x4x1x8xf32>
  %k = rgraph.linear %x, %wk : (tensor<1x1x32xf32>, tensor<16x32xf32>) -> tensor<1x1x16xf32>
  %k1 = rgraph.reshape %k : tensor<1x1x16xf32> -> tensor<1x1x2x8xf32>
  %k2 = rgraph.permute %k1 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x1x2x8xf32> -> tensor<1x2x1x8xf32>
  %m = rgraph.index_put %cache[%pos], %k2 {indexed_dims = array<i64: 2>, accumulate = false} : (tensor<1x2x4x8xf32>, tensor<1x2x1x8xf32>, tensor<1xi64>) -> tensor<1x2x4x8xf32>
  rgraph.update_rows %cache[%pos], %k2 {dim = 2 : i64} : (tensor<1x2x4x8xf32>, tensor<1xi64>, tensor<1x2x1x8xf32>)
  %r = rgraph.reshape %m : tensor<1x2x4x8xf32> -> tensor<1x2x1x4x8xf32>
  %e = rgraph.expand %r : tensor<1x2x1x4x8xf32> -> tensor<1x2x2x4x8xf32>
  %kh = rgraph.reshape %e : tensor<1x2x2x4x8xf32> -> tensor<1x4x4x8xf32>
  %kt = rgraph.permute %kh {dims = array<i64: 0, 1, 3, 2>} : tensor<1x4x4x8xf32> -> tensor<1x4x8x4xf32>
  %s = rgraph.matmul %q2, %kt : (tensor<1x4x1x8xf32>, tensor<1x4x8x4xf32>) -> tensor<1x4x1x4xf32>
  %p = rgraph.softmax %s {dim = -1 : i64} : tensor<1x4x1x4xf32> -> tensor<1x4x1x4xf32>
  %a = rgraph.matmul %p, %kh : (tensor<1x4x1x4xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x1x8xf32>
  %a1 = rgraph.permute %a {dims = array<i64: 0, 2, 1, 3>} : tensor<1x4x1x8xf32> -> tensor<1x1x4x8xf32>
  %a2 = rgraph.reshape %a1 : tensor<1x1x4x8xf32> -> tensor<1x1x32xf32>
  %o = rgraph.linear %a2, %wo : (tensor<1x1x32xf32>, tensor<32x32xf32>) -> tensor<1x1x32xf32>
  func.return %o : tensor<1x1x32xf32>
}

// TP2:      rdu.shard.split = ["k_proj.weight", "key_cache_0", "o_proj.weight", "q_proj.weight"]
// TP2-SAME: rdu.shard.replicated = []
// TP2-DAG:  rgraph.weight "k_proj.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<8x32xf32>
// TP2-DAG:  %[[C:[0-9]+]] = rgraph.weight "key_cache_0" {mutable, shard = #rdu.shard<dim 1, parts 2>} : tensor<1x1x4x8xf32>
// TP2:      rgraph.index_put %[[C]][%pos], %{{.*}} {{.*}} : (tensor<1x1x4x8xf32>, tensor<1x1x1x8xf32>, tensor<1xi64>) -> tensor<1x1x4x8xf32>
// TP2-NEXT: rgraph.update_rows %[[C]][%pos], %{{.*}} {dim = 2 : i64} : (tensor<1x1x4x8xf32>, tensor<1xi64>, tensor<1x1x1x8xf32>)
// TP2:      rgraph.expand %{{.*}} : tensor<1x1x1x4x8xf32> -> tensor<1x1x2x4x8xf32>
// TP2-NOT:  rgraph.all_gather
// TP2:      rgraph.all_reduce %{{.*}} {sockets = 2 : i64} : tensor<1x1x32xf32> -> tensor<1x1x32xf32>
// TP2-NOT:  rgraph.all_gather

// TP4-DAG:  rgraph.weight "k_proj.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<8x32xf32>
// TP4-DAG:  rgraph.weight "q_proj.weight" {shard = #rdu.shard<dim 0, parts 4>} : tensor<8x32xf32>
// TP4-DAG:  %[[C:[0-9]+]] = rgraph.weight "key_cache_0" {mutable, shard = #rdu.shard<dim 1, parts 2>} : tensor<1x1x4x8xf32>
// TP4:      rgraph.update_rows %[[C]][%pos], %{{.*}} {dim = 2 : i64} : (tensor<1x1x4x8xf32>, tensor<1xi64>, tensor<1x1x1x8xf32>)
// TP4:      rgraph.expand %{{.*}} : tensor<1x1x1x4x8xf32> -> tensor<1x1x1x4x8xf32>
// TP4:      rgraph.matmul %{{.*}}, %{{.*}} : (tensor<1x1x1x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x1x1x4xf32>
// TP4-NOT:  rgraph.all_gather
