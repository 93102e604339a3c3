// RUN: rducc opt %s -p 'rdu-shard{tp=4}' | filecheck %s
// GQA with fewer KV heads (2) than sockets (4): each KV head's weight rows are held by two
// sockets (`parts 2`), and those two split its repeat, so every socket ends up with one query
// head and the KV head it reads. Query heads (4) are split one per socket.

func.func @forward(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %wq = rgraph.weight "q_proj.weight" : tensor<16x16xf32>
  %wk = rgraph.weight "k_proj.weight" : tensor<8x16xf32>
  %wo = rgraph.weight "o_proj.weight" : tensor<16x16xf32>
  %q = rgraph.linear %x, %wq : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  %k = rgraph.linear %x, %wk : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x8xf32>
  %q1 = rgraph.reshape %q : tensor<8x16xf32> -> tensor<8x4x4xf32>
  %q2 = rgraph.permute %q1 {dims = array<i64: 1, 0, 2>} : tensor<8x4x4xf32> -> tensor<4x8x4xf32>
  %k1 = rgraph.reshape %k : tensor<8x8xf32> -> tensor<8x2x1x4xf32>
  %k2 = rgraph.expand %k1 : tensor<8x2x1x4xf32> -> tensor<8x2x2x4xf32>
  %k3 = rgraph.reshape %k2 : tensor<8x2x2x4xf32> -> tensor<8x4x4xf32>
  %k4 = rgraph.permute %k3 {dims = array<i64: 1, 2, 0>} : tensor<8x4x4xf32> -> tensor<4x4x8xf32>
  %s = rgraph.matmul %q2, %k4 : (tensor<4x8x4xf32>, tensor<4x4x8xf32>) -> tensor<4x8x8xf32>
  %a = rgraph.matmul %s, %q2 : (tensor<4x8x8xf32>, tensor<4x8x4xf32>) -> tensor<4x8x4xf32>
  %a1 = rgraph.permute %a {dims = array<i64: 1, 0, 2>} : tensor<4x8x4xf32> -> tensor<8x4x4xf32>
  %a2 = rgraph.reshape %a1 : tensor<8x4x4xf32> -> tensor<8x16xf32>
  %o = rgraph.linear %a2, %wo : (tensor<8x16xf32>, tensor<16x16xf32>) -> tensor<8x16xf32>
  func.return %o : tensor<8x16xf32>
}

// CHECK-DAG:  rgraph.weight "q_proj.weight" {shard = #rdu.shard<dim 0, parts 4>} : tensor<4x16xf32>
// CHECK-DAG:  rgraph.weight "k_proj.weight" {shard = #rdu.shard<dim 0, parts 2>} : tensor<4x16xf32>
// CHECK:      rgraph.reshape %{{.*}} : tensor<8x4xf32> -> tensor<8x1x1x4xf32>
// CHECK-NEXT: rgraph.expand %{{.*}} : tensor<8x1x1x4xf32> -> tensor<8x1x1x4xf32>
// CHECK-NEXT: rgraph.reshape %{{.*}} : tensor<8x1x1x4xf32> -> tensor<8x1x4xf32>
// CHECK:      rgraph.matmul %{{.*}}, %{{.*}} : (tensor<1x8x4xf32>, tensor<1x4x8xf32>) -> tensor<1x8x8xf32>
// CHECK:      rgraph.all_reduce %{{.*}} {sockets = 4 : i64} : tensor<8x16xf32> -> tensor<8x16xf32>
