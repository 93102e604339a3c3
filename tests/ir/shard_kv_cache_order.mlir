// RUN: rducc opt %s -p 'rdu-shard{tp=2}' | filecheck %s
// One memory per socket: a KV cache is either split by KV head on every socket or whole on every
// socket, whichever of its update and its merge comes first. Here the update is listed before the
// merge, so the sharder keeps the cache whole (its rows gathered) and the merge follows it, rather
// than holding one state both whole and split.

func.func @forward(%x: tensor<1x1x16xf32>, %pos: tensor<1xi64>) -> tensor<1x2x4x8xf32> {
  %wk = rgraph.weight "k_proj.weight" : tensor<16x16xf32>
  %cache = rgraph.weight "key_cache_0" {mutable} : tensor<1x2x4x8xf32>
  %k = rgraph.linear %x, %wk : (tensor<1x1x16xf32>, tensor<16x16xf32>) -> tensor<1x1x16xf32>
  %k1 = rgraph.reshape %k : tensor<1x1x16xf32> -> tensor<1x1x2x8xf32>
  %k2 = rgraph.permute %k1 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x1x2x8xf32> -> tensor<1x2x1x8xf32>
  rgraph.update_rows %cache[%pos], %k2 {dim = 2 : i64} : (tensor<1x2x4x8xf32>, tensor<1xi64>, tensor<1x2x1x8xf32>)
  %m = rgraph.index_put %cache[%pos], %k2 {indexed_dims = array<i64: 2>, accumulate = false} : (tensor<1x2x4x8xf32>, tensor<1x2x1x8xf32>, tensor<1xi64>) -> tensor<1x2x4x8xf32>
  func.return %m : tensor<1x2x4x8xf32>
}

// CHECK:      rdu.shard.replicated = ["key_cache_0"]
// CHECK:      %[[C:[0-9]+]] = rgraph.weight "key_cache_0" {mutable} : tensor<1x2x4x8xf32>
// CHECK-NOT:  rgraph.weight "key_cache_0"
// CHECK:      %[[R:[0-9]+]] = rgraph.all_gather %{{.*}} {sockets = 2 : i64, dim = 1 : i64} : tensor<1x1x1x8xf32> -> tensor<1x2x1x8xf32>
// CHECK-NEXT: rgraph.update_rows %[[C]][%pos], %[[R]] {dim = 2 : i64} : (tensor<1x2x4x8xf32>, tensor<1xi64>, tensor<1x2x1x8xf32>)
// CHECK-NEXT: rgraph.index_put %[[C]][%pos], %[[R]] {{.*}} -> tensor<1x2x4x8xf32>
