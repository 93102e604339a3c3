// RUN: rducc opt %s -p 'rdu-target{chip=small},canonicalize,rdu-fuse,rdu-lower,rdu-plan-memory' | filecheck %s
// A static KV cache's append: the mutable weight becomes a tensor of role state at the bottom of
// HBM (every program holding it places it alike), the update a store_rows stage that writes only
// the new row into it, and the merge the model reads stays a compute stage on the loaded cache.

func.func @forward(%k: tensor<1x2x1x4xf32>, %pos: tensor<1xi64>) -> tensor<1x2x8x4xf32> {
  %cache = rgraph.weight "cache" {mutable} : tensor<1x2x8x4xf32>
  %0 = rgraph.index_put %cache[%pos], %k {indexed_dims = array<i64: 2>, accumulate = false} : (tensor<1x2x8x4xf32>, tensor<1x2x1x4xf32>, tensor<1xi64>) -> tensor<1x2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 2 : i64} : (tensor<1x2x8x4xf32>, tensor<1xi64>, tensor<1x2x1x4xf32>)
  %1 = rgraph.exp %0 : tensor<1x2x8x4xf32> -> tensor<1x2x8x4xf32>
  func.return %1 : tensor<1x2x8x4xf32>
}

// CHECK:      %[[K:[0-9]+]] = rdu.tensor "k" {role = #rdu.role<input>
// CHECK:      %[[P:[0-9]+]] = rdu.tensor "pos" {role = #rdu.role<input>
// CHECK:      %[[C:[0-9]+]] = rdu.tensor "cache" {role = #rdu.role<state>, tier = #rdu.tier<hbm>, offset = 0 : i64} : !rdu.mem<1x2x8x4xf32>
// CHECK:      rdu.kernel
// CHECK:        %[[OLD:[0-9]+]] = rdu.load %[[C]]
// CHECK:        %[[ROW:[0-9]+]] = rdu.load %[[K]]
// CHECK:        %[[IDX:[0-9]+]] = rdu.load %[[P]]
// CHECK:        rdu.compute "index_put"(%[[OLD]], %[[ROW]], %[[IDX]])
// CHECK-NEXT:   rdu.store_rows %[[ROW]] at %[[IDX]] to %[[C]] {units = 1 : i64, dim = 2 : i64} : !rdu.stream<1x2x1x4xf32>, !rdu.stream<1xi64> -> !rdu.mem<1x2x8x4xf32>
// CHECK-NOT:    rdu.store {{.*}} to %[[C]]
