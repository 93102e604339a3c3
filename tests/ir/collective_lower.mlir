// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower' | filecheck %s
// A collective is a stage of the compute kernel around it, run by an AGCU on the peer-to-peer
// network: the row-parallel linear streams its partial sums straight into the all-reduce, whose
// result streams on into the bias add, with no round trip through HBM between them.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %w = rgraph.weight "fc2.weight" {shard = #rdu.shard<dim 1, parts 2>} : tensor<8x8xf32>
  %b = rgraph.weight "fc2.bias" : tensor<8xf32>
  %p = rgraph.linear %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %s = rgraph.all_reduce %p {sockets = 2 : i64} : tensor<4x8xf32> -> tensor<4x8xf32>
  %y = rgraph.add %s, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  func.return %y : tensor<4x8xf32>
}

// CHECK:      rdu.tensor "fc2.weight" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>, shard = #rdu.shard<dim 1, parts 2>} : !rdu.mem<8x8xf32>
// CHECK:      rdu.kernel "k0_linear_x3" {
// CHECK-NOT:  rdu.store
// CHECK:      %[[P:.*]] = rdu.compute "linear"
// CHECK-NEXT: %[[S:.*]] = rdu.compute "all_reduce"(%[[P]]) {unit = #rdu.unit<agcu>, params = {sockets = 2 : i64}, units = 1 : i64} : (!rdu.stream<4x8xf32>) -> !rdu.stream<4x8xf32>
// CHECK:      rdu.compute "add"
// CHECK:      rdu.store
// CHECK-NEXT: }
