// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// The verifier rules of collectives and of split weights, one case each.

// CHECK: all_reduce: a collective needs a group of at least 2 sockets, got sockets=1
func.func @case0(%a: tensor<4x8xf32>) {
  %0 = rgraph.all_reduce %a {sockets = 1 : i64} : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return
}

// -----

// CHECK: rgraph.all_gather: result shape (4, 8) should be (4, 16)
func.func @case1(%a: tensor<4x8xf32>) {
  %0 = rgraph.all_gather %a {sockets = 2 : i64, dim = 1 : i64} : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return
}

// -----

// CHECK: rgraph.reduce_scatter: dim 1 of size 6 does not split into 4 equal parts
func.func @case2(%a: tensor<4x6xf32>) {
  %0 = rgraph.reduce_scatter %a {sockets = 4 : i64, dim = 1 : i64} : tensor<4x6xf32> -> tensor<4x1xf32>
  func.return
}

// -----

// CHECK: rgraph.all_reduce: input 0 must be a float (they sum), got i64
func.func @case3(%a: tensor<4xi64>) {
  %0 = rgraph.all_reduce %a {sockets = 2 : i64} : tensor<4xi64> -> tensor<4xi64>
  func.return
}

// -----

// CHECK: #rdu.shard: needs dim >= 0 and parts >= 2, got dim 0, parts 1
func.func @case4() {
  %0 = rgraph.weight "w" {shard = #rdu.shard<dim 0, parts 1>} : tensor<4x8xf32>
  func.return
}

// -----

// CHECK: rdu.compute: all_reduce runs on a agcu, not a pcu
builtin.module attributes {rdu.target = #rdu.target<"small">} {
  %t = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
  rdu.kernel "k" {
    %0 = rdu.load %t {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
    %1 = rdu.compute "all_reduce"(%0) {unit = #rdu.unit<pcu>, params = {sockets = 2 : i64}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
  }
}

// -----

// CHECK: rdu.tensor: only a weight, a state or an input is split over sockets, not an activation
builtin.module attributes {rdu.target = #rdu.target<"small">} {
  %t = rdu.tensor "t0" {role = #rdu.role<activation>, tier = #rdu.tier<hbm>, shard = #rdu.shard<dim 0, parts 2>} : !rdu.mem<4xf32>
}
