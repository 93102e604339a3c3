// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// Every verifier rule of the in-place cache update (rgraph.update_rows, rdu.store_rows), one case each.

// CHECK: rgraph.update_rows: the state must be a mutable rgraph.weight, not rgraph.weight
func.func @not_mutable(%k: tensor<2x1x4xf32>, %pos: tensor<1xi64>) {
  %cache = rgraph.weight "cache" : tensor<2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>, tensor<2x1x4xf32>)
  func.return
}

// -----

// CHECK: rgraph.update_rows: buffer 'cache' is read by rgraph.exp, which does not replace the rows this op writes; a mutable buffer may be read only through the merge of its update
func.func @read_elsewhere(%k: tensor<2x1x4xf32>, %pos: tensor<1xi64>) -> tensor<2x8x4xf32> {
  %cache = rgraph.weight "cache" {mutable} : tensor<2x8x4xf32>
  %0 = rgraph.exp %cache : tensor<2x8x4xf32> -> tensor<2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>, tensor<2x1x4xf32>)
  func.return %0 : tensor<2x8x4xf32>
}

// -----

// A merge at other rows than the ones written would see old or new rows depending on the order.
// CHECK: rgraph.update_rows: buffer 'cache' is read by rgraph.index_put, which does not replace the rows this op writes
func.func @merge_other_rows(%k: tensor<2x1x4xf32>, %pos: tensor<1xi64>, %other: tensor<1xi64>) -> tensor<2x8x4xf32> {
  %cache = rgraph.weight "cache" {mutable} : tensor<2x8x4xf32>
  %0 = rgraph.index_put %cache[%other], %k {indexed_dims = array<i64: 1>, accumulate = false} : (tensor<2x8x4xf32>, tensor<2x1x4xf32>, tensor<1xi64>) -> tensor<2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>, tensor<2x1x4xf32>)
  func.return %0 : tensor<2x8x4xf32>
}

// -----

// CHECK: rgraph.update_rows: buffer 'cache' is updated twice in one program
func.func @twice(%k: tensor<2x1x4xf32>, %pos: tensor<1xi64>) {
  %cache = rgraph.weight "cache" {mutable} : tensor<2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>, tensor<2x1x4xf32>)
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>, tensor<2x1x4xf32>)
  func.return
}

// -----

// CHECK: rgraph.update_rows: rows (2, 2, 4) should be (2, 1, 4) (state (2, 8, 4) with dim 1 of the index's length)
func.func @rows_shape(%k: tensor<2x2x4xf32>, %pos: tensor<1xi64>) {
  %cache = rgraph.weight "cache" {mutable} : tensor<2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xi64>, tensor<2x2x4xf32>)
  func.return
}

// -----

// CHECK: rgraph.update_rows: input 1 must be i64 or i32 (indices), got f32
func.func @float_index(%k: tensor<2x1x4xf32>, %pos: tensor<1xf32>) {
  %cache = rgraph.weight "cache" {mutable} : tensor<2x8x4xf32>
  rgraph.update_rows %cache[%pos], %k {dim = 1 : i64} : (tensor<2x8x4xf32>, tensor<1xf32>, tensor<2x1x4xf32>)
  func.return
}

// -----

builtin.module attributes {rdu.target = #rdu.target<"small">} {
  %0 = rdu.tensor "w" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>} : !rdu.mem<2x8x4xf32>
  %1 = rdu.tensor "k" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<2x1x4xf32>
  %2 = rdu.tensor "pos" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 1 : i64} : !rdu.mem<1xi64>
  rdu.kernel "k0" {
    %3 = rdu.load %1 {units = 1 : i64} : !rdu.mem<2x1x4xf32> -> !rdu.stream<2x1x4xf32>
    %4 = rdu.load %2 {units = 1 : i64} : !rdu.mem<1xi64> -> !rdu.stream<1xi64>
    rdu.store_rows %3 at %4 to %0 {units = 1 : i64, dim = 1 : i64} : !rdu.stream<2x1x4xf32>, !rdu.stream<1xi64> -> !rdu.mem<2x8x4xf32>
  }
}
// CHECK: rdu.store_rows: the tensor must have role state (rows are written in place only into state)

// -----

builtin.module attributes {rdu.target = #rdu.target<"small">} {
  %0 = rdu.tensor "c" {role = #rdu.role<state>, tier = #rdu.tier<hbm>} : !rdu.mem<2x8x4xf32>
  %1 = rdu.tensor "k" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<2x1x4xf32>
  %2 = rdu.tensor "pos" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 1 : i64} : !rdu.mem<1xi64>
  rdu.kernel "k0" {
    %3 = rdu.load %1 {units = 1 : i64} : !rdu.mem<2x1x4xf32> -> !rdu.stream<2x1x4xf32>
    %4 = rdu.load %2 {units = 1 : i64} : !rdu.mem<1xi64> -> !rdu.stream<1xi64>
    rdu.store_rows %3 at %4 to %0 {units = 1 : i64, dim = 0 : i64} : !rdu.stream<2x1x4xf32>, !rdu.stream<1xi64> -> !rdu.mem<2x8x4xf32>
  }
}
// CHECK: rdu.store_rows: rows (2, 1, 4) should be (1, 8, 4) (state (2, 8, 4) with dim 0 of the index's length)
