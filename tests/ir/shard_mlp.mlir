// RUN: rducc opt %s -p 'rdu-shard{tp=2}' | filecheck %s
// Megatron MLP: fc1 column-parallel (weight rows and bias split), fc2 row-parallel (weight columns
// split), its partial sums all-reduced before fc2's bias, which every socket holds whole.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %w1 = rgraph.weight "fc1.weight" : tensor<16x8xf32>
  %b1 = rgraph.weight "fc1.bias" : tensor<16xf32>
  %w2 = rgraph.weight "fc2.weight" : tensor<8x16xf32>
  %b2 = rgraph.weight "fc2.bias" : tensor<8xf32>
  %0 = rgraph.linear %x, %w1, %b1 : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %1 = rgraph.relu %0 : tensor<4x16xf32> -> tensor<4x16xf32>
  %2 = rgraph.linear %1, %w2, %b2 : (tensor<4x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  func.return %2 : tensor<4x8xf32>
}

// CHECK:      builtin.module attributes {rdu.tp = 2 : i64, rdu.shard.split = ["fc1.bias", "fc1.weight", "fc2.weight"], rdu.shard.replicated = ["fc2.bias"]}
// CHECK-DAG:  %[[W1:.*]] = rgraph.weight "fc1.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<8x8xf32>
// CHECK-DAG:  %[[B1:.*]] = rgraph.weight "fc1.bias" {shard = #rdu.shard<dim 0, parts 2>} : tensor<8xf32>
// CHECK-DAG:  %[[W2:.*]] = rgraph.weight "fc2.weight" {shard = #rdu.shard<dim 1, parts 2>} : tensor<8x8xf32>
// CHECK-DAG:  %[[B2:.*]] = rgraph.weight "fc2.bias" : tensor<8xf32>
// CHECK:      %[[H:.*]] = rgraph.linear %x, %[[W1]], %[[B1]] : (tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: %[[R:.*]] = rgraph.relu %[[H]] : tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT: %[[P:.*]] = rgraph.linear %[[R]], %[[W2]] : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: %[[S:.*]] = rgraph.all_reduce %[[P]] {sockets = 2 : i64} : tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT: %[[Y:.*]] = rgraph.add %[[S]], %[[B2]] : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: func.return %[[Y]] : tensor<4x8xf32>
